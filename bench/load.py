"""The whole portal under load while a re-ingest runs: ≥ 10,000 distinct real URLs, 64 clients,
60 s, against nginx serving the same downloads.

What it measures: ``openhep serve --workers N --no-access-log`` over an instance made by
``openhep demo`` from the repository's data alone (the 7,535 real CODP records of
``data/codp-records``, the real CMS samples of ``data/cms-samples`` and ``data/ispy`` published
as records 990001… with their true bytes, CODP's docs pages), loaded over loopback by
``--clients`` (default 64) closed-loop clients on keep-alive connections (bench/search.py's
load generator: asyncio + h11) for ``--seconds`` (default 60). Six classes of requests, each
client taking the next one of one schedule (the classes interleaved by weight, each class's
URLs shuffled), so the clients together walk through every distinct URL before any repeats:

* ``search_api`` and ``search_page``: ``/api/records/?…`` and ``/search?…`` with the same
  parameters, built from the records themselves: every distinct word of at least three letters
  in their titles as ``q``, the commonest also as ``title:<word>``, every value of every facet
  they hold (``type``, ``subtype``, ``experiment``, ``year``, ``collision_energy``,
  ``collision_type``, ``file_type``, ``category``, ``keywords``, ``signature``) as a filter,
  pairs of experiment and type, words under an experiment, sorts and second pages;
* ``record_api`` and ``record_page``: ``/api/records/<recid>`` and ``/record/<recid>`` for every
  recid;
* ``download`` and ``download_range``: each sample file at ``/eos/opendata/<path>`` and at
  ``/record/<recid>/files/<key>``, whole (200 and its size, checked) and with ``Range`` (the
  first KiB, 64 KiB from the middle, the last 4 KiB: 206 and the range's length, checked).

Meanwhile another process re-ingests the records (``openhep ingest --batch-size 500``): each
pass writes a new version of every record (the real record with one added field,
``bench_revision``, alternating between passes so that every pass changes every record), so the
workers follow 7,535 changes in the change log while they answer. A pass starts when the load
starts and again every ``--reingest-every`` seconds (default 20: three passes in 60 s; a pass
still running then is waited for); the figures say when each ran and how long it took.

Every answer must have the expected status (and length, for downloads); anything else, or a
broken connection, counts under ``errors``, which must be 0. Each class and the whole have
``p50_ms``/``p95_ms``/``p99_ms``/``max_ms`` (per request, nearest rank) and ``rps``; the
workers' resident memory (VmRSS of each process of the server's tree) is read before and after.

The named baseline, in the same run: nginx (``worker_processes N``, ``sendfile on``) serving
the same files from the instance's store, and the same ``/eos/opendata/…`` downloads (whole and
with the same ranges) sent to it and to OpenHEP alone, each for ``--baseline-seconds``
(default a quarter of ``--seconds``, at least 5) with the same clients, one after the other:
``downloads_vs_nginx`` is OpenHEP's p50/p95 and rate over nginx's.

Prints one JSON line on stdout and appends it to ``bench/results/load.jsonl``; progress goes
to stderr. ``--seconds`` and ``--clients`` shorten a run (``--seconds 10 --clients 16`` for a
quick one); ``--no-record`` leaves the results file alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import h11
import httpx
import orjson

from bench.harness import (
    HOST,
    READY,
    REPO_ROOT,
    Connection,
    Run,
    add_record_option,
    brief,
    cpu_machine,
    cpu_self,
    first_paragraph,
    iter_records,
    memory,
    nginx_server,
    openhep_cli,
    openhep_env,
    openhep_server,
    percentile,
    progress,
    run_cli,
    search_parameters,
    source_tree,
)

note = progress("load")
DATA = REPO_ROOT / "data"

CLASSES = ("search_api", "search_page", "record_api", "record_page", "download", "download_range")
#: How often each class comes in the schedule (out of their sum).
WEIGHTS = {
    "search_api": 2,
    "search_page": 2,
    "record_api": 2,
    "record_page": 2,
    "download": 1,
    "download_range": 1,
}
MIN_DISTINCT_URLS = 10_000
SAMPLE_RECIDS = range(990001, 991000)
REINGEST_BATCH = 500
MAX_REINGEST_PASSES = 50
#: Per-request bound of the load loops (a request still unanswered then is an error).
REQUEST_TIMEOUT_S = 60.0
#: Upper bound on requests per client per second of load (a loop bound, far above any rate).
MAX_RATE_PER_CLIENT = 5_000


# -- the URLs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One request of the schedule and what its answer must be."""

    cls: str
    target: str
    range: str | None = None
    status: int = 200
    length: int | None = None  # downloads: the body's length

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return (("Range", self.range),) if self.range else ()

    @property
    def key(self) -> str:
        return f"{self.target} {self.range}" if self.range else self.target


def download_items(base: str, home: Path) -> list[Item]:
    """The sample records' files, at both addresses, whole and with ranges (sizes checked
    against the bytes in the store)."""
    items: list[Item] = []
    with httpx.Client(base_url=base, timeout=60, trust_env=False) as client:
        for recid in SAMPLE_RECIDS:
            response = client.get(f"/api/records/{recid}")
            if response.status_code == 404:
                break
            response.raise_for_status()
            for entry in response.json()["metadata"].get("files") or []:
                path = urlsplit(entry["uri"]).path.lstrip("/")
                size = int(entry["size"])
                if (home / "files" / path).stat().st_size != size:
                    raise SystemExit(f"bench/load: {path} in the store is not {size} bytes")
                for target in (f"/{path}", f"/record/{recid}/files/{quote(entry['key'])}"):
                    items.append(Item("download", target, length=size))
                    middle = size // 2
                    for low, high in (
                        (0, 1023),
                        (middle, middle + 65_535),
                        (size - 4096, size - 1),
                    ):
                        low, high = max(low, 0), min(high, size - 1)
                        items.append(
                            Item(
                                "download_range", target, f"bytes={low}-{high}", 206, high - low + 1
                            )
                        )
    if not items:
        raise SystemExit("bench/load: the instance holds no sample files (openhep demo failed?)")
    return items


def build_items(records: Sequence[dict[str, Any]], downloads: list[Item]) -> dict[str, list[Item]]:
    searches = [urlencode(s, quote_via=quote) for s in search_parameters(records)]
    recids = sorted({str(r["recid"]) for r in records}, key=int)
    recids += [t.split("/")[2] for t in (i.target for i in downloads) if t.startswith("/record/")]
    recids = list(dict.fromkeys(recids))
    return {
        "search_api": [Item("search_api", f"/api/records/?{q}") for q in searches],
        "search_page": [Item("search_page", f"/search?{q}") for q in searches],
        "record_api": [Item("record_api", f"/api/records/{r}") for r in recids],
        "record_page": [Item("record_page", f"/record/{r}") for r in recids],
        "download": [i for i in downloads if i.cls == "download"],
        "download_range": [i for i in downloads if i.cls == "download_range"],
    }


def schedule(by_class: dict[str, list[Item]], seed: int = 7535) -> list[Item]:
    """The classes interleaved by weight, each class's items shuffled and cycled, long enough
    that every item of every class comes at least once."""
    rng = random.Random(seed)
    shuffled = {cls: rng.sample(items, len(items)) for cls, items in by_class.items()}
    pattern = [cls for cls in CLASSES for _ in range(WEIGHTS[cls])]
    rng.shuffle(pattern)
    rounds = max(-(-len(shuffled[c]) // WEIGHTS[c]) for c in CLASSES)
    out: list[Item] = []
    taken = dict.fromkeys(CLASSES, 0)
    for _ in range(rounds):
        for cls in pattern:
            items = shuffled[cls]
            out.append(items[taken[cls] % len(items)])
            taken[cls] += 1
    return out


# -- the load -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Figures:
    latencies_ns: list[int] = field(default_factory=list)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_examples) < 3:
            self.error_examples.append(what)


async def drive(
    port: int, items: Sequence[Item], clients: int, seconds: float
) -> tuple[dict[str, Figures], set[str], float]:
    """``clients`` closed-loop clients on keep-alive connections: client *i* takes items *i*,
    *i + clients*, … of ``items`` (cycling), so together they walk the schedule in order.
    Bounded by ``seconds`` (requests in flight then are finished) and by a request count."""
    figures = {cls: Figures() for cls in CLASSES}
    requested: set[str] = set()
    started = time.perf_counter()
    deadline = started + seconds
    budget = int(seconds * MAX_RATE_PER_CLIENT)

    async def client(index: int) -> None:
        connection = Connection(HOST, port)
        position = index
        try:
            for _ in range(budget):
                if time.perf_counter() >= deadline:
                    break
                item = items[position % len(items)]
                position += clients
                requested.add(item.key)
                sent = time.perf_counter_ns()
                try:
                    status, body = await asyncio.wait_for(
                        connection.get(item.target, item.headers), REQUEST_TIMEOUT_S
                    )
                except (OSError, h11.ProtocolError, TimeoutError) as exc:
                    connection.close()
                    figures[item.cls].error(f"{item.key}: {type(exc).__name__}: {exc}")
                    continue
                latency = time.perf_counter_ns() - sent
                if status != item.status:
                    figures[item.cls].error(f"{item.key}: HTTP {status}")
                elif item.length is not None and len(body) != item.length:
                    figures[item.cls].error(f"{item.key}: {len(body)} bytes, not {item.length}")
                else:
                    figures[item.cls].latencies_ns.append(latency)
        finally:
            connection.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return figures, requested, time.perf_counter() - started


def summary(latencies_ns: Sequence[int], errors: int, wall: float) -> dict[str, Any]:
    ms = sorted(ns / 1e6 for ns in latencies_ns)
    pct = percentile
    return {
        "requests": len(ms) + errors,
        "errors": errors,
        "p50_ms": round(pct(ms, 50), 2) if ms else None,
        "p95_ms": round(pct(ms, 95), 2) if ms else None,
        "p99_ms": round(pct(ms, 99), 2) if ms else None,
        "max_ms": round(ms[-1], 2) if ms else None,
        "rps": round(len(ms) / wall, 1) if wall else None,
    }


def measure(
    runner: asyncio.Runner, server: Any, items: Sequence[Item], clients: int, seconds: float
) -> dict[str, Any]:
    client_cpu, server_cpu, all_cpu = cpu_self(), server.cpu_seconds(), cpu_machine()
    figures, requested, wall = runner.run(drive(server.port, items, clients, seconds))
    client_cpu, server_cpu = cpu_self() - client_cpu, server.cpu_seconds() - server_cpu
    other_cpu = max(cpu_machine() - all_cpu - client_cpu - server_cpu, 0.0)
    every = [ns for f in figures.values() for ns in f.latencies_ns]
    result = summary(every, sum(f.errors for f in figures.values()), wall)
    result |= {
        "clients": clients,
        "seconds": round(wall, 2),
        "distinct_requested": len(requested),
        "client_cpu_cores": round(client_cpu / wall, 2),
        "server_cpu_cores": round(server_cpu / wall, 2),
        "other_cpu_cores": round(other_cpu / wall, 2),
        "by_class": {
            cls: summary(f.latencies_ns, f.errors, wall)
            | ({"error_examples": f.error_examples} if f.error_examples else {})
            for cls, f in figures.items()
            if f.latencies_ns or f.errors
        },
    }
    return result


# -- the re-ingest and the server's memory ------------------------------------------------------


def revised_records(records: Sequence[dict[str, Any]], work: Path) -> list[Path]:
    """Two versions of every record for the re-ingest to alternate between (one added field)."""
    out = []
    for revision in (1, 2):
        path = work / f"revision-{revision}" / "records.json"
        path.parent.mkdir()
        path.write_bytes(orjson.dumps([{**r, "bench_revision": revision} for r in records]))
        out.append(path)
    return out


class Reingest:
    """``openhep ingest`` passes in another process, one every ``every`` seconds (or as soon as
    the last one ends, if later), until ``stop``."""

    def __init__(
        self, sources: list[Path], env: dict[str, str], log: Path, every: float, until: float
    ) -> None:
        self.sources, self.env, self.log, self.every = sources, env, log, every
        self.until = until  # no pass starts this many seconds after the first or later
        self.passes: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=900)

    def _run(self) -> None:
        started = time.perf_counter()
        for n in range(MAX_REINGEST_PASSES):
            if n * self.every >= self.until:
                return
            if self._stop.wait(max(0.0, started + n * self.every - time.perf_counter())):
                return
            source = self.sources[n % len(self.sources)]
            begun = time.perf_counter()
            with self.log.open("ab") as log:
                done = subprocess.run(
                    [*openhep_cli(), "ingest", str(source), "--json",
                     "--batch-size", str(REINGEST_BATCH)],
                    env=self.env, stdout=subprocess.PIPE, stderr=log, timeout=900, check=False,
                )  # fmt: skip
            line = done.stdout.decode(errors="replace").strip().splitlines()
            report = orjson.loads(line[-1]) if done.returncode == 0 and line else {}
            self.passes.append(
                {
                    "exit": done.returncode,
                    "started_s": round(begun - started, 1),
                    "seconds": round(time.perf_counter() - begun, 1),
                    "updated": report.get("updated"),
                }
            )


# -- the run ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=first_paragraph(__doc__))
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration (default 60)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--workers", type=int, default=2, help="openhep/nginx workers (default 2)")
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=None,
        help="seconds of downloads on nginx and on OpenHEP alone (default: seconds/4, ≥ 5)",
    )
    parser.add_argument(
        "--reingest-every",
        type=float,
        default=20.0,
        help="seconds between the starts of re-ingest passes (default 20)",
    )
    add_record_option(parser, "load")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.clients < 1 or args.workers < 1 or args.reingest_every <= 0:
        parser.error("--seconds, --clients, --workers and --reingest-every must be positive")
    if args.baseline_seconds is None:
        args.baseline_seconds = max(5.0, args.seconds / 4)
    if args.baseline_seconds <= 0:
        parser.error("--baseline-seconds must be positive")
    return args


@contextlib.contextmanager
def servers(home: Path, work: Path, workers: int) -> Iterator[tuple[Any, Any]]:
    """``openhep serve`` over ``home`` and nginx over its store, ended on the way out."""
    with contextlib.ExitStack() as stack:
        openhep = stack.enter_context(
            openhep_server("openhep", home, work / "openhep.log", workers)
        )
        openhep.wait_ready(READY)
        (home / "files" / "index.html").write_text("bench/load\n", encoding="utf-8")
        nginx = stack.enter_context(
            nginx_server(
                work,
                home / "files",
                workers,
                worker_connections=1024,
                http="default_type application/octet-stream;\n    keepalive_requests 1000000;",
            )
        )
        nginx.wait_ready("/index.html")
        yield openhep, nginx


def compare(ours: dict[str, Any], nginx: dict[str, Any]) -> dict[str, Any]:
    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a is not None and b else None

    return {
        "p50_openhep_over_nginx": ratio(ours["p50_ms"], nginx["p50_ms"]),
        "p95_openhep_over_nginx": ratio(ours["p95_ms"], nginx["p95_ms"]),
        "rps_openhep_over_nginx": ratio(ours["rps"], nginx["rps"]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run("load", code=source_tree(None))
    records = list(iter_records([DATA / "codp-records"]))
    result = run.result
    result |= {
        "baseline": "nginx (sendfile) serving the same files from the instance's store: the "
        "same /eos/opendata downloads, whole and with the same ranges, same clients",
        "volume": f"openhep demo from data/: {len(records):,} real CODP records, the CMS "
        "samples as records 990001… with their bytes, CODP's docs",
        "settings": {
            "clients": args.clients,
            "seconds": args.seconds,
            "baseline_seconds": args.baseline_seconds,
            "workers": args.workers,
            "weights": WEIGHTS,
            "reingest_batch_size": REINGEST_BATCH,
            "reingest_every_s": args.reingest_every,
        },
    }
    # Readable by all: nginx's workers (nobody) read the store below it.
    with run.workspace(readable=True) as (work, runner):
        home = work / "home"
        env = openhep_env(home)
        note("openhep demo: the records, the samples and the docs of data/")
        demo = [*openhep_cli(), "demo", "--records", str(DATA / "codp-records"),
                "--samples", str(DATA), "--docs", str(DATA / "codp-docs"), "--json"]  # fmt: skip
        result["setup_seconds"] = {"openhep_demo": run_cli(demo, env, "openhep demo")}
        sources = revised_records(records, work)
        with servers(home, work, args.workers) as (openhep, nginx):
            downloads = download_items(openhep.base, home)
            by_class = build_items(records, downloads)
            items = schedule(by_class)
            distinct = {i.key for items_ in by_class.values() for i in items_}
            result["urls"] = {
                "distinct": len(distinct),
                "by_class": {cls: len(v) for cls, v in by_class.items()},
                "download_files": len({i.target for i in by_class["download"]}) // 2,
            }
            note(f"{len(distinct):,} distinct requests: {result['urls']['by_class']}")
            if len(distinct) < MIN_DISTINCT_URLS:
                raise SystemExit(f"bench/load: only {len(distinct):,} distinct URLs")
            # Warm-up: the first requests of every class (their answers then come from the
            # cache, as on a server that has run a while).
            warm = [i for cls in CLASSES for i in by_class[cls][:20]]
            runner.run(drive(openhep.port, warm, 4, 2.0))
            result["worker_memory_before"] = memory(openhep.proc.pid)

            note(f"load: {args.clients} clients for {args.seconds:g} s, with re-ingests")
            reingest = Reingest(
                sources, env, work / "reingest.log", args.reingest_every, args.seconds
            )
            reingest.start()
            loaded = measure(runner, openhep, items, args.clients, args.seconds)
            reingest.stop()
            result["worker_memory_after"] = memory(openhep.proc.pid)
            result["load"] = loaded
            result["reingest"] = {
                "passes": reingest.passes,
                "records_per_pass": len(records),
                "all_exited_0": all(p["exit"] == 0 for p in reingest.passes),
            }
            note(
                f"load: {loaded['requests']:,} requests, {loaded['errors']} errors, p50 "
                f"{loaded['p50_ms']} p95 {loaded['p95_ms']} p99 {loaded['p99_ms']} max "
                f"{loaded['max_ms']} ms, {loaded['rps']} req/s; re-ingest passes "
                f"{[(p['exit'], p['seconds']) for p in reingest.passes]}"
            )

            eos = [i for i in downloads if i.target.startswith("/eos/")]
            baseline: dict[str, Any] = {"requests": len(eos)}
            for name, server in (("nginx", nginx), ("openhep", openhep)):
                runner.run(drive(server.port, eos, 2, 1.0))
                figure = measure(runner, server, eos, args.clients, args.baseline_seconds)
                figure.pop("by_class")
                baseline[name] = figure
                note(f"downloads alone on {name}: {brief(figure)}")
            baseline["comparison"] = compare(baseline["openhep"], baseline["nginx"])
            result["downloads_vs_nginx"] = baseline
        note("cleaning up")
    result["targets"] = {
        "errors": 0,
        "met": result["load"]["errors"] == 0 and result["reingest"]["all_exited_0"],
        "distinct_urls_min": MIN_DISTINCT_URLS,
    }
    run.finish(save=not args.no_record)
    return 0 if result["targets"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
