"""Search and record latency of the REST API, over HTTP and in-process, against Datasette.

What it measures: the latency of a representative query mix at ``/api/records/`` (free text,
fielded queries, facet filters, sorts, deep pages, single-record reads), each class for a fixed
time, on two volumes: the 7,535 real CODP records (``real_7535``) and a catalogue grown to
≥ 200,000 records exactly as ``bench/ingest.py`` grows its volume (``grown_200k``: the real
records plus the CMS 2016 skeleton stubs completed from their source, repeated with recids
offset by multiples of 1,000,000). OpenHEP's catalogue is filled with ``openhep ingest
--batch-size 10000`` and indexed with ``openhep reindex``. For each volume and class:

* ``openhep_http``: ``openhep serve --workers N`` (N uvicorn processes, each listening on the
  port with its own ``SO_REUSEPORT`` socket, so the kernel spreads the connections over them)
  in its own process group, loaded over loopback by ``--clients`` (default 32) closed-loop
  clients on keep-alive connections, no think time unless ``--think-ms`` (asyncio + h11 in
  this process, uvloop when installed);
* ``openhep_nocache_http``: the same with ``OPENHEP_ANSWER_CACHE_MB=0``. ``openhep serve``
  keeps each answer until the catalogue changes (docs/api.md); the query mix repeats its
  queries, so as shipped nearly every measured answer is served from that cache (each figure
  gives its ``cache_hit_ratio``), while with the cache off every answer is computed: what a
  query asked for the first time costs;
* ``datasette_http``: the named baseline, measured in the same run by the same load generator:
  ``datasette serve -i`` (one process, its default SQL thread pool) over a SQLite database of
  the same records built with sqlite-utils, FTS5 on title + abstract, the same facets;
* ``openhep_http_1client``, ``datasette_http_1client``: one client alone, before the loaded
  run (latency without queueing; with 32 clients and no think time latency is mostly queueing:
  p50 ≈ 32 ÷ throughput);
* ``openhep_inprocess``: ``openhep.web.create_app`` (answer cache off) called through
  ``httpx.ASGITransport`` by one client, no network.

The servers run throughout and the classes alternate between them, so drift in the machine's
load falls on all. Every response must be 200; anything else (or a broken connection) counts
under ``errors``. A Datasette 200 that left out a facet or the count because it hit its time
limit counts under ``partial`` (it did less work than asked). Each figure has
``p50_ms``/``p95_ms``/``p99_ms`` (per-request wall time, nearest rank), ``rps``, the p50 of each
query, and the CPU (in cores) that the load generator, the server and everything else on the
machine used while it ran: they share the machine's cores.

Datasette's table (``records``, one row per record, pk ``recid``) has the columns ``title``,
``description`` (``abstract.description``), ``experiment``, ``type``, ``subtype`` (array of
``type.secondary``), ``year`` (first year of ``date_created``), ``collision_energy``,
``collision_type``, ``file_type`` (array of ``distribution.formats``), ``number_events``,
``number_events_range`` (CODP's bucket of it), ``date_published``, ``keywords`` (array),
``category``, ``subcategory`` (array), ``signature`` (array), ``availability``,
``magnet_polarity``, ``stripping_stream``, ``stripping_version``; an index on every scalar
column filtered or sorted on, FTS5 on ``title`` + ``description``. Where a field is a list in
the record but almost always has one value (``experiment``: 1 record of 7,535 has two;
``date_created`` years: 130 have several) Datasette gets its fast path, an indexed scalar
column holding the first value. Every listing asks Datasette for the 16 facets that make up
OpenHEP's 14 aggregations (type/subtype and category/subcategory are nested there): ``_facet``
for scalar columns, ``_facet_array`` for arrays; and ``_size=10``. How each query class maps
onto Datasette's table JSON API (``/codp/records.json``):

==============  ==========================================  ======================================
class           OpenHEP ``/api/records/?…``                 Datasette ``/codp/records.json?…``
==============  ==========================================  ======================================
free_text       ``q=muon``, ``q=Higgs boson``,              ``_search=…`` (escaped mode: words
                ``q="Higgs boson"``, …                      are ANDed, quotes make a phrase)
fielded         ``q=title:muon``                            ``_search_title=muon``
                ``q=collision_information.energy:13TeV``    ``collision_energy__exact=13TeV``
                ``q=distribution.number_events:[a TO b]``   ``number_events__gte=a&…__lte=b``
                ``q=title:Higgs AND experiment:CMS``        ``_search_title=Higgs&experiment__…``
facet_filters   ``type=Dataset&experiment=CMS&year=2012``   ``type__exact=…&experiment__exact=…&
                                                            year__exact=2012``
                ``subtype=Collision``, ``file_type=root``,  ``subtype__arraycontains=Collision``,
                ``keywords=…``                              ``file_type__arraycontains=root``, …
                ``year=2010--2012``                         ``year__gte=2010&year__lte=2012``
                ``number_events=1000000--9999999``          ``number_events__gte=…&…__lte=…``
sorts           ``sort=mostrecent``, ``sort=title``,        ``_sort_desc=date_published``,
                ``sort=title_desc`` (with and without q)    ``_sort=title``, ``_sort_desc=title``
deep_pages      ``page=500&size=10`` (offset 4,990), and    ``_next=<token of row 4,990>``, the
                ``search_after=<cursor at 4,990>`` from     keyset token a client walking there
                walking ``links.next``                      holds (Datasette has no offset)
record_get      ``/api/records/<recid>``                    ``/codp/records/<recid>.json``
==============  ==========================================  ======================================

Cursors are fetched by walking (pages of 1,000) before timing. The two do not search the same
text: OpenHEP's free words search every field of the record as CODP's do (title, abstract,
keywords, accelerator, categories, methodology, …; docs/search.md), Datasette's FTS only
title + abstract, so free-text hit counts differ (both are printed). Datasette's table API
has no relevance ranking: where OpenHEP sorts free text by best match, Datasette returns
matches in recid order. OpenHEP's facets ignore their own group's
filter (CODP's post-filter semantics); Datasette's count the filtered rows. Datasette runs with
``suggest_facets off`` (OpenHEP suggests none), ``facet_time_limit_ms 1000``,
``sql_time_limit_ms 5000``, ``default_facet_size 30``, in immutable mode with an inspect file
(cached table count): its best showing on read-only data.

Prints one JSON line on stdout; progress, and every query's hit counts on both systems, go to
stderr. ``--quick`` measures the real records only with short runs; ``--skip-openhep``
measures Datasette and the harness alone; ``--duration``, ``--clients``, ``--workers`` and
``--think-ms`` set the load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import h11
import httpx
import orjson

from _modules import load_bench

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DB_NAME = "codp"  # Datasette names the database after the file: /codp/records.json
TABLE = "records"
PAGE_SIZE = 10
DEEP_PAGE = 500  # page 500 of 10: offset 4,990 (as DEEP_MIX spells it)
RECORD_SAMPLE = 64  # recids record_get cycles through
TARGET_P50_MS = 5.0
VOLUMES = ("real_7535", "grown_200k")
NO_CACHE = {"OPENHEP_ANSWER_CACHE_MB": "0"}  # openhep serve with its answer cache off
TARGET_P95_MS = 25.0
CLASSES = ("free_text", "fielded", "facet_filters", "sorts", "deep_pages", "record_get")

#: CODP's number_events facet buckets (DESIGN.md), lower bounds.
EVENT_BUCKETS = (0, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)

#: Datasette's facets, the same as OpenHEP's aggregations (DESIGN.md's CODP facet list).
DATASETTE_FACETS = (
    ("_facet", "type"),
    ("_facet_array", "subtype"),
    ("_facet", "experiment"),
    ("_facet", "year"),
    ("_facet_array", "file_type"),
    ("_facet", "collision_type"),
    ("_facet", "collision_energy"),
    ("_facet", "category"),
    ("_facet_array", "subcategory"),
    ("_facet_array", "signature"),
    ("_facet_array", "keywords"),
    ("_facet", "number_events_range"),
    ("_facet", "availability"),
    ("_facet", "magnet_polarity"),
    ("_facet", "stripping_stream"),
    ("_facet", "stripping_version"),
)
SCALAR_COLUMNS = {
    "title": str,
    "description": str,
    "experiment": str,
    "type": str,
    "year": int,
    "collision_energy": str,
    "collision_type": str,
    "number_events": int,
    "number_events_range": str,
    "date_published": str,
    "category": str,
    "availability": str,
    "magnet_polarity": str,
    "stripping_stream": str,
    "stripping_version": str,
}
ARRAY_COLUMNS = ("subtype", "file_type", "keywords", "subcategory", "signature")
INDEXED_COLUMNS = (
    "experiment",
    "type",
    "year",
    "collision_energy",
    "collision_type",
    "number_events",
    "number_events_range",
    "date_published",
    "title",
    "category",
    "availability",
)
DATASETTE_SETTINGS = {
    "facet_time_limit_ms": "1000",
    "sql_time_limit_ms": "5000",
    "default_facet_size": "30",
    "suggest_facets": "off",
    "max_returned_rows": "1000",
}


def note(message: str) -> None:
    print(f"[bench/search] {message}", file=sys.stderr, flush=True)


# -- the query mix --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """One query of the mix, as OpenHEP's API and Datasette's table API each spell it."""

    cls: str
    label: str
    openhep: str
    datasette: str
    #: deep pages: the row Datasette's ``_next`` token must point at (fetched before timing)
    datasette_walk: int = 0
    #: cursor pages: the row OpenHEP's ``search_after`` cursor must point at (likewise)
    openhep_walk: int = 0


#: The listing queries: (class, name, OpenHEP's parameters, Datasette's), unencoded; every
#: OpenHEP query gets ``size=10``, every Datasette query the facets and ``_size=10``.
MIX = (
    ("free_text", "muon", "q=muon", "_search=muon"),
    ("free_text", "jet", "q=jet", "_search=jet"),
    ("free_text", "DoubleMuParked", "q=DoubleMuParked", "_search=DoubleMuParked"),
    ("free_text", "Higgs boson", "q=Higgs boson", "_search=Higgs boson"),
    ("free_text", '"Higgs boson"', 'q="Higgs boson"', '_search="Higgs boson"'),
    ("free_text", "minimum bias", "q=minimum bias", "_search=minimum bias"),
    ("fielded", "title:muon", "q=title:muon", "_search_title=muon"),
    ("fielded", "energy:13TeV", "q=collision_information.energy:13TeV",
     "collision_energy__exact=13TeV"),
    ("fielded", "number_events:[1000 TO 5000]", "q=distribution.number_events:[1000 TO 5000]",
     "number_events__gte=1000&number_events__lte=5000"),
    ("fielded", "title:Higgs experiment:CMS", "q=title:Higgs AND experiment:CMS",
     "_search_title=Higgs&experiment__exact=CMS"),
    ("facet_filters", "Dataset CMS 2012", "type=Dataset&experiment=CMS&year=2012",
     "type__exact=Dataset&experiment__exact=CMS&year__exact=2012"),
    ("facet_filters", "Collision 2010--2012", "type=Dataset&subtype=Collision&year=2010--2012",
     "type__exact=Dataset&subtype__arraycontains=Collision&year__gte=2010&year__lte=2012"),
    ("facet_filters", "root 7TeV", "file_type=root&collision_energy=7TeV",
     "file_type__arraycontains=root&collision_energy__exact=7TeV"),
    ("facet_filters", "muon CMS Dataset", "q=muon&experiment=CMS&type=Dataset",
     "_search=muon&experiment__exact=CMS&type__exact=Dataset"),
    ("facet_filters", "Dataset 1M--10M events", "type=Dataset&number_events=1000000--9999999",
     "type__exact=Dataset&number_events__gte=1000000&number_events__lte=9999999"),
    ("facet_filters", "keywords masterclass", "keywords=masterclass",
     "keywords__arraycontains=masterclass"),
    ("sorts", "muon mostrecent", "q=muon&sort=mostrecent",
     "_search=muon&_sort_desc=date_published"),
    ("sorts", "jet title", "q=jet&sort=title", "_search=jet&_sort=title"),
    ("sorts", "Dataset title_desc", "type=Dataset&sort=title_desc",
     "type__exact=Dataset&_sort_desc=title"),
    ("sorts", "all mostrecent", "sort=mostrecent", "_sort_desc=date_published"),
)  # fmt: skip
#: Deep pages: (name, OpenHEP's parameters, Datasette's, walked by OpenHEP's cursor?). Datasette
#: always reaches row 4,990 with the ``_next`` token of a walk, OpenHEP with page 500 or with
#: the ``search_after`` cursor from walking ``links.next``.
DEEP_MIX = (
    ("CMS mostrecent page 500", "experiment=CMS&sort=mostrecent&page=500",
     "experiment__exact=CMS&_sort_desc=date_published", False),
    ("Supplementaries title page 500", "type=Supplementaries&sort=title&page=500",
     "type__exact=Supplementaries&_sort=title", False),
    ("CMS free text page 500", "q=CMS&page=500", "_search=CMS", False),
    ("CMS mostrecent cursor at 4,990", "experiment=CMS&sort=mostrecent",
     "experiment__exact=CMS&_sort_desc=date_published", True),
)  # fmt: skip


def pairs(params: str) -> list[tuple[str, str]]:
    return [(k, v) for k, _, v in (p.partition("=") for p in params.split("&"))]


def openhep_search(params: str) -> str:
    encoded = urlencode([*pairs(params), ("size", PAGE_SIZE)], quote_via=quote)
    return f"/api/records/?{encoded}"


def datasette_listing(params: str) -> str:
    encoded = urlencode([*pairs(params), *DATASETTE_FACETS, ("_size", PAGE_SIZE)], quote_via=quote)
    return f"/{DB_NAME}/{TABLE}.json?{encoded}"


def search_queries() -> list[Query]:
    """Every listing query of the mix, the same semantic query on both systems."""
    offset = (DEEP_PAGE - 1) * PAGE_SIZE
    return [
        *(Query(c, name, openhep_search(oh), datasette_listing(ds)) for c, name, oh, ds in MIX),
        *(
            Query(
                "deep_pages",
                name,
                openhep_search(oh),
                datasette_listing(ds),
                datasette_walk=offset,
                openhep_walk=offset if cursor else 0,
            )
            for name, oh, ds, cursor in DEEP_MIX
        ),
    ]


def record_queries(recids: Sequence[int]) -> list[Query]:
    return [
        Query("record_get", str(r), f"/api/records/{r}", f"/{DB_NAME}/{TABLE}/{r}.json")
        for r in recids
    ]


# -- the volumes ----------------------------------------------------------------------------


@dataclass(slots=True)
class Volume:
    """The record files of one measured volume, and what the bench built from them."""

    name: str
    paths: list[Path]
    records: int = 0
    recids: list[int] = field(default_factory=list)
    setup_seconds: dict[str, float] = field(default_factory=dict)


def iter_records(paths: Sequence[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        data = orjson.loads(path.read_bytes())
        yield from [data] if isinstance(data, dict) else data


def events_range(number: int | None) -> str | None:
    if number is None:
        return None
    lower = max(b for b in EVENT_BUCKETS if number >= b)
    upper = next((b - 1 for b in EVENT_BUCKETS if b > number), None)
    return f"{lower}--{upper}" if upper is not None else f"{lower}--"


def datasette_row(record: dict[str, Any]) -> dict[str, Any]:
    """The record as one row of Datasette's table (see the module docstring)."""
    kind = record["type"]
    collision = record.get("collision_information") or {}
    distribution = record.get("distribution") or {}
    categories = record.get("categories") or {}
    years = [int(d[:4]) for d in record.get("date_created") or [] if d[:4].isdigit()]
    return {
        "recid": int(record["recid"]),
        "title": record["title"],
        "description": (record.get("abstract") or {}).get("description"),
        "experiment": record["experiment"][0],
        "type": kind["primary"],
        "subtype": list(kind.get("secondary") or []),
        "year": years[0] if years else None,
        "collision_energy": collision.get("energy"),
        "collision_type": collision.get("type"),
        "file_type": list(distribution.get("formats") or []),
        "number_events": distribution.get("number_events"),
        "number_events_range": events_range(distribution.get("number_events")),
        "date_published": record["date_published"],
        "keywords": list(record.get("keywords") or []),
        "category": categories.get("primary"),
        "subcategory": list(categories.get("secondary") or []),
        "signature": list(record.get("signature") or []),
        "availability": distribution.get("availability") or "online",
        "magnet_polarity": record.get("magnet_polarity"),
        "stripping_stream": (record.get("stripping") or {}).get("stream"),
        "stripping_version": (record.get("stripping") or {}).get("version"),
    }


def build_datasette_db(volume: Volume, db_path: Path) -> None:
    """Load the volume's records into the SQLite database Datasette serves (sqlite-utils)."""
    import sqlite_utils

    db = sqlite_utils.Database(db_path)
    table = db[TABLE]
    assert isinstance(table, sqlite_utils.db.Table)
    columns: dict[str, Any] = {"recid": int, **SCALAR_COLUMNS, **dict.fromkeys(ARRAY_COLUMNS, str)}
    table.create(columns, pk="recid")
    recids: list[int] = []

    def rows() -> Iterator[dict[str, Any]]:
        for record in iter_records(volume.paths):
            row = datasette_row(record)
            recids.append(row["recid"])
            yield row

    table.insert_all(rows(), batch_size=5_000)
    for column in INDEXED_COLUMNS:
        table.create_index([column])
    table.enable_fts(["title", "description"], create_triggers=False)
    table.optimize()
    db.analyze()
    db.vacuum()
    db.close()
    volume.records = len(recids)
    volume.recids = recids


# -- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A server subprocess in its own process group, ended (group and all) on ``close``."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = log
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def wait_ready(self, path: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-3000:]
                    raise SystemExit(f"bench/search: {self.name} exited at start:\n{tail}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(path).status_code == 200:
                        return
                time.sleep(0.2)
        raise SystemExit(f"bench/search: {self.name} not ready after {timeout:.0f} s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server's whole process tree so far."""
        return tree_cpu_seconds(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """user + system (+ reaped children's) CPU seconds of ``root`` and its descendants."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            # after the command name: state ppid … utime(12) stime(13) cutime(14) cstime(15)
            cpu = sum(int(f) for f in fields[11:15]) / _TICKS
            stats[int(entry.name)] = (int(fields[1]), cpu)
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in stats.items() if ppid == parent]
        tree.update(children)
        frontier += children
    return sum(stats[pid][1] for pid in tree if pid in stats)


def run_cli(argv: list[str], env: dict[str, str], what: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench/search: {what} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return round(time.perf_counter() - started, 1)


def openhep_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHEP_")}
    return env | {"OPENHEP_HOME": str(home)}


def build_openhep(volume: Volume, home: Path) -> None:
    """``openhep ingest`` the volume's files into a fresh home, then ``openhep reindex``."""
    env = openhep_env(home)
    cli = [sys.executable, "-m", "openhep"]
    volume.setup_seconds["openhep_ingest"] = run_cli(
        [*cli, "ingest", *map(str, volume.paths), "--batch-size", "10000"], env, "openhep ingest"
    )
    volume.setup_seconds["openhep_reindex"] = run_cli([*cli, "reindex"], env, "openhep reindex")


# -- the load generator ---------------------------------------------------------------------


@dataclass(slots=True)
class Samples:
    latencies_ns: list[int] = field(default_factory=list)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    #: answered 200 but with less than was asked (Datasette: a facet or the count timed out)
    partial: int = 0
    by_target: dict[str, list[int]] = field(default_factory=dict)
    #: answers that said whether they came from the server's answer cache, and those that did
    cache_marked: int = 0
    cache_hits: int = 0

    def cache(self, mark: bytes | None) -> None:
        if mark is not None:
            self.cache_marked += 1
            self.cache_hits += mark == b"hit"

    def ok(self, target: str, sent_ns: int) -> None:
        latency = time.perf_counter_ns() - sent_ns
        self.latencies_ns.append(latency)
        self.by_target.setdefault(target, []).append(latency)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_examples) < 3:
            self.error_examples.append(what)


class Connection:
    """One keep-alive HTTP/1.1 connection driven by h11 (cheap next to httpx per request)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.conn = h11.Connection(h11.CLIENT)
        #: the last answer's ``x-cache`` header (``hit``/``miss``; None: not marked)
        self.cache: bytes | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.conn = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def get(self, target: str, headers: Sequence[tuple[str, str]] = ()) -> tuple[int, bytes]:
        """GET ``target`` (with ``headers`` besides Host); read the whole response; its status
        and body."""
        if self.writer is None or self.conn.our_state is not h11.IDLE:
            self.close()
            await self.open()
        assert self.reader is not None and self.writer is not None
        request = h11.Request(
            method="GET",
            target=target,
            headers=[("Host", f"{self.host}:{self.port}"), *headers],
        )
        self.writer.write(self.conn.send(request) + (self.conn.send(h11.EndOfMessage()) or b""))
        status = 0
        body: list[bytes] = []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(262_144)
                self.conn.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
                self.cache = next((v for k, v in event.headers if k == b"x-cache"), None)
            elif isinstance(event, h11.Data):
                body.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("server closed the connection")
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        else:
            self.close()
        return status, b"".join(body)


async def closed_loop(
    port: int,
    targets: Sequence[str],
    clients: int,
    seconds: float,
    samples: Samples | None,
    partial: Callable[[bytes], bool] | None = None,
    think: float = 0.0,
) -> float:
    """``clients`` clients, each sending its next request as soon as the last one is answered.

    Client *i* starts at query *i* of ``targets`` and cycles through them. Requests are sent
    until ``seconds`` have passed; those in flight then are finished and counted. Returns the
    wall time from start to the last answer. ``partial`` tells incomplete 200 answers;
    ``think`` is the pause (s) of a client between an answer and its next request.
    """
    started = time.perf_counter()
    deadline = started + seconds

    async def client(index: int) -> None:
        connection = Connection(HOST, port)
        i = index
        try:
            while time.perf_counter() < deadline:
                target = targets[i % len(targets)]
                i += 1
                sent = time.perf_counter_ns()
                try:
                    status, body = await asyncio.wait_for(connection.get(target), 60)
                except (OSError, h11.ProtocolError, TimeoutError) as exc:
                    connection.close()
                    if samples is not None:
                        samples.error(f"{target}: {type(exc).__name__}: {exc}")
                    continue
                if samples is None:
                    continue
                if status == 200:
                    samples.ok(target, sent)
                    samples.cache(connection.cache)
                    if partial is not None and partial(body):
                        samples.partial += 1
                else:
                    samples.error(f"{target}: HTTP {status}")
                if think:
                    await asyncio.sleep(think)
        finally:
            connection.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return time.perf_counter() - started


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-len(sorted_ms) * q // 100))
    return sorted_ms[int(rank) - 1]


def summarize(
    samples: Samples, wall: float, extra: dict[str, Any], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """Percentiles, rate and errors of one measurement; per query too if ``labels`` names them."""
    ms = sorted(ns / 1e6 for ns in samples.latencies_ns)
    figure: dict[str, Any] = {
        "p50_ms": round(percentile(ms, 50), 2) if ms else None,
        "p95_ms": round(percentile(ms, 95), 2) if ms else None,
        "p99_ms": round(percentile(ms, 99), 2) if ms else None,
        "rps": round(len(ms) / wall, 1) if wall else None,
        "requests": len(ms),
        "errors": samples.errors,
    }
    if samples.partial:
        figure["partial"] = samples.partial
    if samples.cache_marked:
        figure["cache_hit_ratio"] = round(samples.cache_hits / samples.cache_marked, 4)
    if samples.error_examples:
        figure["error_examples"] = samples.error_examples
    if labels:
        figure["per_query_p50_ms"] = {
            labels[t]: round(percentile(sorted(ns / 1e6 for ns in lat), 50), 2)
            for t, lat in samples.by_target.items()
        }
    return figure | extra


def cpu_machine() -> float:
    """CPU seconds the whole machine has been busy (all processes, all cores)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICKS


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def datasette_missing(data: dict[str, Any]) -> list[str]:
    """What a Datasette answer left out because it ran out of time: facets, the count.

    Its JSON does not list timed-out facets (only its HTML does): they are just absent.
    """
    missing = sorted({name for _, name in DATASETTE_FACETS} - set(data.get("facet_results") or {}))
    if data.get("filtered_table_rows_count") is None:
        missing.append("count")
    return missing


def datasette_partial(body: bytes) -> bool:
    return bool(datasette_missing(orjson.loads(body)))


def measure_http(
    runner: asyncio.Runner,
    server: Server,
    labels: dict[str, str],
    clients: int,
    seconds: float,
    partial: Callable[[bytes], bool] | None = None,
    think: float = 0.0,
) -> dict[str, Any]:
    """``seconds`` of closed-loop load of ``clients`` on one server with one class's queries.

    ``labels`` maps each query's path to its name (empty: no per-query figures).
    """
    targets = list(labels)
    samples = Samples()
    client_cpu, server_cpu, all_cpu = cpu_self(), server.cpu_seconds(), cpu_machine()
    wall = runner.run(closed_loop(server.port, targets, clients, seconds, samples, partial, think))
    client_cpu, server_cpu = cpu_self() - client_cpu, server.cpu_seconds() - server_cpu
    # Whatever else ran on the machine meanwhile (other processes skew absolute figures).
    other_cpu = max(cpu_machine() - all_cpu - client_cpu - server_cpu, 0.0)
    return summarize(
        samples,
        wall,
        {
            "clients": clients,
            "seconds": round(wall, 2),
            "client_cpu_cores": round(client_cpu / wall, 2),
            "server_cpu_cores": round(server_cpu / wall, 2),
            "other_cpu_cores": round(other_cpu / wall, 2),
        },
        labels if len(labels) < 20 else None,
    )


async def measure_inprocess(
    app: Any, by_class: dict[str, dict[str, str]], seconds: float
) -> dict[str, Any]:
    """Each class through the ASGI app in this process: one client, no network."""
    results: dict[str, Any] = {}
    # An exception in the app is a 500 answer counted as an error, as over HTTP.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        for cls, labels in by_class.items():
            targets = list(labels)
            for target in targets:  # warm-up: each query once
                await client.get(target)
            samples = Samples()
            started = time.perf_counter()
            i = 0
            while time.perf_counter() - started < seconds:
                target = targets[i % len(targets)]
                i += 1
                sent = time.perf_counter_ns()
                response = await client.get(target)
                if response.status_code == 200:
                    samples.ok(target, sent)
                else:
                    samples.error(f"{target}: HTTP {response.status_code}")
            results[cls] = summarize(
                samples,
                time.perf_counter() - started,
                {"clients": 1},
                labels if len(labels) < 20 else None,
            )
            note(f"  openhep_inprocess {cls}: {brief(results[cls])}")
    return results


def brief(figure: dict[str, Any]) -> str:
    cpu = (
        f", cpu client {figure['client_cpu_cores']} server {figure['server_cpu_cores']}"
        f" other {figure['other_cpu_cores']}"
        if "server_cpu_cores" in figure
        else ""
    )
    return (
        f"p50 {figure['p50_ms']} ms, p95 {figure['p95_ms']} ms, p99 {figure['p99_ms']} ms, "
        f"{figure['rps']} req/s, {figure['errors']} errors{cpu}"
    )


# -- sanity: what each query finds on each system --------------------------------------------


def walk_token(
    client: httpx.Client,
    url: Callable[[int, str | None], str],
    token_of: Callable[[dict[str, Any]], str | None],
    offset: int,
) -> str:
    """The cursor a client walking a listing holds after ``offset`` rows (pages of ≤ 1,000)."""
    token: str | None = None
    walked = 0
    while walked < offset:
        size = min(1000, offset - walked)
        response = client.get(url(size, token))
        response.raise_for_status()
        token = token_of(response.json())
        walked += size
        if token is None:
            raise SystemExit(f"bench/search: {url(size, None)} ended before row {offset}")
    assert token is not None
    return token


def datasette_next(client: httpx.Client, listing: str, offset: int) -> str:
    base = listing.replace(f"_size={PAGE_SIZE}", "_nofacet=1&_nocount=1")
    return walk_token(
        client,
        lambda size, token: f"{base}&_size={size}" + (f"&_next={quote(token)}" if token else ""),
        lambda data: data.get("next"),
        offset,
    )


def openhep_search_after(client: httpx.Client, search: str, offset: int) -> str:
    def token_of(data: dict[str, Any]) -> str | None:
        following = data.get("links", {}).get("next")
        if not following:
            return None
        cursor: str = parse_qs(urlsplit(following).query)["search_after"][0]
        return cursor

    return walk_token(
        client,
        lambda size, token: (
            search.replace(f"size={PAGE_SIZE}", f"size={size}&skip_files=1")
            + (f"&search_after={quote(token)}" if token else "")
        ),
        token_of,
        offset,
    )


@contextlib.contextmanager
def clients(
    openhep: Server | None, datasette: Server
) -> Iterator[tuple[httpx.Client | None, httpx.Client]]:
    """Plain httpx clients of both servers (OpenHEP's is ``None`` when it is not measured)."""
    with httpx.Client(base_url=datasette.base, timeout=120) as ds:
        if openhep is None:
            yield None, ds
            return
        with httpx.Client(base_url=openhep.base, timeout=120) as oh:
            yield oh, ds


def resolve_walks(
    queries: Sequence[Query], openhep: Server | None, datasette: Server
) -> list[Query]:
    """The queries with their deep-page cursors filled in, as a walking client holds them."""
    resolved = []
    with clients(openhep, datasette) as (oh, ds):
        for query in queries:
            if query.datasette_walk:
                token = datasette_next(ds, query.datasette, query.datasette_walk)
                query = replace(query, datasette=f"{query.datasette}&_next={quote(token)}")
            if query.openhep_walk and oh is not None:
                token = openhep_search_after(oh, query.openhep, query.openhep_walk)
                query = replace(query, openhep=f"{query.openhep}&search_after={quote(token)}")
            resolved.append(query)
    return resolved


def check_hits(
    queries: Sequence[Query], openhep: Server | None, datasette: Server
) -> dict[str, Any]:
    """One request per listing query on each system: [total hits, rows returned, facets]."""
    found: dict[str, Any] = {}
    timed_out: dict[str, list[str]] = {}
    with clients(openhep, datasette) as (oh, ds):
        for query in queries:
            if query.cls == "record_get":
                continue
            row: dict[str, Any] = {"class": query.cls}
            response = ds.get(query.datasette)
            if response.status_code == 200:
                data = response.json()
                row["datasette"] = [
                    data.get("filtered_table_rows_count"),
                    len(data["rows"]),
                    len(data.get("facet_results") or {}),
                ]
                if missing := datasette_missing(data):
                    timed_out[query.label] = missing
            else:
                row["datasette"] = f"HTTP {response.status_code}: {response.text[:200]}"
            if oh is not None:
                response = oh.get(query.openhep)
                if response.status_code == 200:
                    hits = response.json()["hits"]
                    aggregations = response.json().get("aggregations") or {}
                    row["openhep"] = [hits["total"], len(hits["hits"]), len(aggregations)]
                else:
                    row["openhep"] = f"HTTP {response.status_code}: {response.text[:200]}"
            note(
                f"  {query.cls:13} {query.label:32} datasette {row['datasette']}"
                + (f"  openhep {row['openhep']}" if "openhep" in row else "")
            )
            found[query.label] = row
    return {"hits_total_returned_facets": found, "datasette_timed_out": timed_out}


# -- one volume ------------------------------------------------------------------------------


def measure_volume(
    volume: Volume, work: Path, args: argparse.Namespace, runner: asyncio.Runner
) -> dict[str, Any]:
    note(f"{volume.name}: building Datasette's SQLite database")
    db_path = work / volume.name / f"{DB_NAME}.db"
    db_path.parent.mkdir(parents=True)
    started = time.perf_counter()
    build_datasette_db(volume, db_path)
    volume.setup_seconds["datasette_load"] = round(time.perf_counter() - started, 1)
    inspect_file = db_path.with_suffix(".inspect.json")
    run_cli(
        [sys.executable, "-m", "datasette", "inspect", str(db_path), "--inspect-file",
         str(inspect_file)],
        dict(os.environ),
        "datasette inspect",
    )  # fmt: skip
    home = work / volume.name / "openhep-home"
    if not args.skip_openhep:
        note(f"{volume.name}: openhep ingest + reindex of {volume.records:,} records")
        build_openhep(volume, home)

    rng = random.Random(7535)
    queries = search_queries() + record_queries(rng.sample(volume.recids, RECORD_SAMPLE))
    result: dict[str, Any] = {"records": volume.records}
    with contextlib.ExitStack() as stack:
        settings_args = [a for k, v in DATASETTE_SETTINGS.items() for a in ("--setting", k, v)]
        datasette = Server(
            "datasette",
            [sys.executable, "-m", "datasette", "serve", "-i", str(db_path), "--inspect-file",
             str(inspect_file), "--host", HOST, "--port", "{port}", *settings_args],
            dict(os.environ),
            work / volume.name / "datasette.log",
        )  # fmt: skip
        stack.callback(datasette.close)
        openhep: Server | None = None
        nocache: Server | None = None
        if not args.skip_openhep:
            # As shipped (answers kept until the catalogue changes), and with that cache off:
            # what every first-time query costs.
            openhep, nocache = (
                Server(
                    name,
                    [sys.executable, "-m", "openhep", "serve", "--host", HOST, "--port", "{port}",
                     "--workers", str(args.workers), "--no-access-log"],
                    openhep_env(home) | extra,
                    work / volume.name / f"{name}.log",
                )
                for name, extra in (("openhep", {}), ("openhep_nocache", NO_CACHE))
            )  # fmt: skip
            for each in (openhep, nocache):
                stack.callback(each.close)
                each.wait_ready("/api/records/?size=1")
        datasette.wait_ready(f"/{DB_NAME}/{TABLE}.json?_size=1")
        note(f"{volume.name}: walking to the deep pages for their cursors")
        queries = resolve_walks(queries, openhep, datasette)
        note(f"{volume.name}: what each query finds ([total, returned, facets])")
        result |= check_hits(queries, openhep, datasette)

        by_class = {c: [q for q in queries if q.cls == c] for c in CLASSES}
        systems = [("openhep", openhep), ("openhep_nocache", nocache), ("datasette", datasette)]
        # The servers are up throughout; classes alternate between them, so that drift of
        # the machine's load falls on all alike.
        for cls, members in by_class.items():
            for name, server in systems:
                if server is None:
                    continue
                labels = {
                    (q.datasette if name == "datasette" else q.openhep): q.label for q in members
                }
                partial = datasette_partial if name == "datasette" and cls != "record_get" else None
                # Warm-up (untimed, two connections: both workers of a two-worker server),
                # then one client alone (latency without queueing), then the loaded run.
                runner.run(closed_loop(server.port, list(labels), 2, 1.0, None))
                for key, clients, seconds, think in (
                    (f"{name}_http_1client", 1, max(1.0, args.duration / 4), 0.0),
                    (f"{name}_http", args.clients, args.duration, args.think_ms / 1000),
                ):
                    figure = measure_http(runner, server, labels, clients, seconds, partial, think)
                    result.setdefault(key, {})[cls] = figure
                    note(f"  {key} {cls}: {brief(figure)}")

    if not args.skip_openhep:
        from openhep.settings import Settings
        from openhep.web import create_app

        # The engine and the app's own work: the answer cache is off.
        app = create_app(Settings(home=home, answer_cache_bytes=0))
        targets_by_class = {c: {q.openhep: q.label for q in m} for c, m in by_class.items()}
        result["openhep_inprocess"] = runner.run(
            measure_inprocess(app, targets_by_class, max(1.0, args.duration / 2))
        )
        result["comparison"] = compare(result["openhep_http"], result["datasette_http"])
        result["comparison_nocache"] = compare(
            result["openhep_nocache_http"], result["datasette_http"]
        )
    result["setup_seconds"] = volume.setup_seconds
    return result


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """Per class: Datasette's latency ÷ ours at p50 and p95; faster: lower at both, no errors."""
    out: dict[str, Any] = {}
    for cls, mine in ours.items():
        other = theirs[cls]
        if None in (mine["p50_ms"], mine["p95_ms"], other["p50_ms"], other["p95_ms"]):
            out[cls] = {"faster": False}
            continue
        out[cls] = {
            "datasette_over_openhep_p50": round(other["p50_ms"] / mine["p50_ms"], 2),
            "datasette_over_openhep_p95": round(other["p95_ms"] / mine["p95_ms"], 2),
            "faster": mine["p50_ms"] < other["p50_ms"]
            and mine["p95_ms"] < other["p95_ms"]
            and not mine["errors"],
        }
    return out


# -- the run ---------------------------------------------------------------------------------


def machine(load_at_start: float) -> dict[str, Any]:
    versions: dict[str, str] = {}
    for name in ("datasette", "sqlite_utils", "fastapi", "uvicorn", "tantivy", "h11", "uvloop"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[name] = version(name.replace("_", "-"))
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
        "load_average_1min": {
            "start": round(load_at_start, 2),
            "end": round(os.getloadavg()[0], 2),
        },
    }


def targets(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets: p50/p95 over HTTP at 200k, and faster than Datasette everywhere;
    judged as shipped (``openhep_http``: the answer cache on) and with the cache off
    (``openhep_nocache_http``: every query as if asked for the first time)."""
    grown = result.get("grown_200k") or {}

    def met(system: str) -> bool | None:
        http = grown.get(system)
        if not http:
            return None
        return all(
            f["p50_ms"] is not None
            and f["p50_ms"] <= TARGET_P50_MS
            and f["p95_ms"] <= TARGET_P95_MS
            and f["errors"] == 0
            for f in http.values()
        )

    def faster(comparison: str) -> bool | None:
        found = [result[v][comparison] for v in VOLUMES if comparison in result.get(v, {})]
        return all(c["faster"] for comp in found for c in comp.values()) if found else None

    return {
        "p50_ms": TARGET_P50_MS,
        "p95_ms": TARGET_P95_MS,
        "checked_on": "grown_200k openhep_http (as shipped) and openhep_nocache_http, every "
        "class, no errors",
        "met": met("openhep_http"),
        "met_nocache": met("openhep_nocache_http"),
        "faster_than_datasette_every_class": faster("comparison"),
        "faster_than_datasette_every_class_nocache": faster("comparison_nocache"),
        "faster_means": "lower p50 and lower p95 over HTTP with --clients clients and no errors, "
        "every class, every measured volume",
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    load_bench("ingest").add_anchors_option(parser)
    parser.add_argument(
        "--quick", action="store_true", help="the real records only, 3-second runs per class"
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds of load per class (default 10)"
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=2, help="openhep serve --workers")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="pause of each loaded client between an answer and its next request (default 0)",
    )
    parser.add_argument(
        "--skip-openhep", action="store_true", help="measure Datasette and the harness only"
    )
    return checked_load_options(parser, parser.parse_args(argv))


def checked_load_options(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.Namespace:
    """``--duration`` (default 10 s, 3 s with ``--quick``), ``--clients``, ``--workers`` and
    ``--think-ms`` checked: what bench/pages.py's load options share with these."""
    if args.duration is None:
        args.duration = 3.0 if args.quick else 10.0
    if args.duration <= 0 or args.clients < 1 or args.workers < 1 or args.think_ms < 0:
        parser.error(
            "--duration, --clients and --workers must be positive, --think-ms not negative"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    anchors: Path = args.anchors.resolve()
    if not anchors.is_dir():
        raise SystemExit(f"bench/search: {anchors} is not a directory (--anchors)")
    ingest_bench = load_bench("ingest")  # the growth volume is built by its code, not a copy
    # SIGTERM unwinds like Ctrl-C (bench/ingest.py's handler): the servers and files go too.
    signal.signal(signal.SIGTERM, ingest_bench._terminate)
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    cpu_at_start = cpu_self()
    result: dict[str, Any] = {
        "bench": "search",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "baseline": "datasette_http: Datasette serving the same records from SQLite FTS5, "
        "same facets (mapping in bench/search.py's docstring)",
    }
    with (
        tempfile.TemporaryDirectory(prefix="openhep-bench-search-") as tmp,
        asyncio.Runner(loop_factory=new_event_loop) as runner,
    ):
        work = Path(tmp)
        inputs = ingest_bench.build_inputs(anchors, work, grow=not args.quick, at_200k_runs=0)
        volumes = [Volume("real_7535", list(inputs.real))]
        if inputs.grow_dir is not None:
            volumes.append(Volume("grown_200k", sorted(inputs.grow_dir.iterdir())))
        result["volume"] = {
            "real_7535": f"the {inputs.real_records:,} real CODP records "
            f"({len(inputs.real)} files of {anchors.name})",
            "grown_200k": ingest_bench.describe_volume(inputs) + " (bench/ingest.py's growth)"
            if inputs.grow_dir is not None
            else None,
        }
        result["settings"] = {
            "clients": args.clients,
            "think_time_ms": args.think_ms,
            "duration_per_class_s": args.duration,
            "single_client_duration_per_class_s": max(1.0, args.duration / 4),
            "inprocess_duration_per_class_s": max(1.0, args.duration / 2),
            "openhep_workers": None if args.skip_openhep else args.workers,
            "page_size": PAGE_SIZE,
            "deep_page": DEEP_PAGE,
            "datasette": DATASETTE_SETTINGS | {"mode": "immutable (-i), --inspect-file"},
            "datasette_facets": [f"{k}={v}" for k, v in DATASETTE_FACETS],
        }
        for volume in volumes:
            result[volume.name] = measure_volume(volume, work, args, runner)
        note("cleaning up")
    if not args.skip_openhep:
        result["targets"] = targets(result)
    result["machine"] = machine(load_at_start)
    seconds = time.perf_counter() - started
    result["bench_process_cpu_cores"] = round((cpu_self() - cpu_at_start) / seconds, 2)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["seconds"] = round(seconds, 1)
    print(orjson.dumps(result).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
