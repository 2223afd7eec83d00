"""Latency of the HTML pages (home, search, record) over HTTP, against their JSON twins and
against nginx serving the same pages pre-rendered.

What it measures: ``openhep serve --workers N`` over the 7,535 real CODP records (``openhep
ingest`` + ``openhep reindex``), loaded over loopback by ``--clients`` (default 32) closed-loop
clients on keep-alive connections (bench/search.py's load generator: asyncio + h11), each
sending its next request as soon as its last one is answered. With ``--think-ms T`` the clients
browse instead: each pauses a random time (exponential, mean T; the first pause uniform in
[0, T)) between an answer and its next request, so that they do not move in lockstep. Three
classes of pages:

* ``home``: ``/`` (one search: facet counts and the six latest records);
* ``search``: ``/search?…``, a mix of free text, fielded queries, facet filters (type,
  subtype, experiment, year ranges, energy, file type, keywords, event-count buckets), sorts and
  a later page — every answer with the page's facets;
* ``record``: ``/record/<recid>``, the rich records — the 8 with the most files, the 8 with
  the longest metadata, 4 with file indices, the 4 with the most relations (22 distinct among
  the real records) — and 32 more drawn at random (seed 7535); the JSON line lists them.

Each class is measured on three systems, in the same run, by the same load generator:

* ``openhep_html``: the pages themselves, as shipped: ``openhep serve`` keeps each answer
  until the catalogue changes (docs/api.md), and the mix repeats its pages, so nearly every
  measured answer comes from that cache (each figure gives its ``cache_hit_ratio``);
* ``openhep_html_nocache`` and ``openhep_json_nocache``: the same from a second server with
  ``OPENHEP_ANSWER_CACHE_MB=0``, where every page is rendered for its request: what a page
  asked for the first time costs;
* ``openhep_json`` — **the named baseline**: each page's JSON twin from the same server
  processes (``/api/records/?…`` with the same parameters; ``/api/records/?size=6&sort=
  mostrecent`` for the home page; ``/api/records/<recid>`` for a record page). Same search,
  same catalogue reads, same workers: the difference is what turning the answer into a page
  costs (templating, facet links, sanitising record HTML), which is the page layer's own work;
* ``nginx_static``: the floor — Debian's nginx (``worker_processes N``, ``sendfile on``)
  serving the very HTML bytes the pages answered, fetched once before timing and stored as
  files: what serving these pages would cost if nothing had to be computed per request.

Every response must be 200 (anything else counts under ``errors``). Each figure has
``p50_ms``/``p95_ms``/``p99_ms`` (per request, nearest rank), ``rps`` and the CPU (cores) the
load generator, the server and everything else on the machine used meanwhile (they share the
machine's cores). ``html_over_json`` is the HTML page's latency ÷ its twin's at p50 and p95.
The target is p95 ≤ 30 ms for every class of ``openhep_html``, with no errors; ``met_nocache``
says whether it holds with the cache off too.

Prints one JSON line on stdout; progress goes to stderr. ``--quick`` runs 3 s per class;
``--duration``, ``--clients``, ``--workers`` and ``--think-ms`` set the load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import pwd
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import orjson

from _modules import load_bench

REPO_ROOT = Path(__file__).resolve().parent.parent
CLASSES = ("home", "search", "record")
SYSTEMS = (
    "openhep_html",
    "openhep_json",
    "openhep_html_nocache",
    "openhep_json_nocache",
    "nginx_static",
)
TARGET_P95_MS = 30.0
RANDOM_RECORDS = 32
RICH_RECORDS = 8

#: The search pages of the mix (unencoded query strings), each also asked of the API.
SEARCH_MIX = (
    "",
    "q=muon",
    "q=Higgs boson",
    'q="Higgs boson"',
    "q=DoubleMuParked&sort=mostrecent",
    "q=title:muon",
    "q=collision_information.energy:13TeV",
    "q=distribution.number_events:[1000 TO 5000]",
    "type=Dataset&experiment=CMS&year=2012",
    "type=Dataset&subtype=Collision&year=2010--2012",
    "file_type=root&collision_energy=7TeV",
    "q=muon&experiment=CMS&type=Dataset",
    "type=Dataset&number_events=1000000--9999999",
    "keywords=masterclass",
    "experiment=ATLAS&experiment=ALICE",
    "type=Software&sort=title",
    "q=jet&sort=title_desc&page=3",
    "type=Dataset&subtype=Simulated&collision_energy=13TeV&page=2",
)
HOME_TWIN = "/api/records/?size=6&sort=mostrecent"


def note(message: str) -> None:
    print(f"[bench/pages] {message}", file=sys.stderr, flush=True)


# -- the pages -------------------------------------------------------------------------------


def encode(params: str) -> str:
    pairs = [(k, v) for k, _, v in (p.partition("=") for p in params.split("&")) if k]
    return urlencode(pairs, quote_via=quote)


def record_sample(paths: Sequence[Path]) -> tuple[list[str], dict[str, list[str]]]:
    """The recids of the record class, and why each rich one was chosen."""
    records: list[dict[str, Any]] = []
    for path in paths:
        data = orjson.loads(path.read_bytes())
        records.extend([data] if isinstance(data, dict) else data)
    by_files = sorted(records, key=lambda r: -len(r.get("files") or []))[:RICH_RECORDS]
    by_size = sorted(records, key=lambda r: -len(orjson.dumps(r)))[:RICH_RECORDS]
    indexed = [
        r
        for r in records
        if any(str(f.get("type", "")).startswith("index") for f in r.get("files") or [])
    ][:4]
    related = sorted(records, key=lambda r: -len(r.get("relations") or []))[:4]
    rich = {
        "most_files": [str(r["recid"]) for r in by_files],
        "longest_metadata": [str(r["recid"]) for r in by_size],
        "file_indices": [str(r["recid"]) for r in indexed],
        "most_relations": [str(r["recid"]) for r in related],
    }
    chosen = list(dict.fromkeys(recid for group in rich.values() for recid in group))
    rest = sorted({str(r["recid"]) for r in records} - set(chosen))
    chosen += random.Random(7535).sample(rest, RANDOM_RECORDS)
    return chosen, rich


def targets_of(recids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    """Per class, the paths of each system (nginx's are filled in once the pages are saved)."""
    searches = [encode(p) for p in SEARCH_MIX]
    paths = {
        "home": {"openhep_html": ["/"], "openhep_json": [HOME_TWIN]},
        "search": {
            "openhep_html": [f"/search?{q}" if q else "/search" for q in searches],
            "openhep_json": [f"/api/records/?{q}" if q else "/api/records/" for q in searches],
        },
        "record": {
            "openhep_html": [f"/record/{r}" for r in recids],
            "openhep_json": [f"/api/records/{r}" for r in recids],
        },
    }
    for by_system in paths.values():  # the server with its answer cache off: the same paths
        for kind in ("html", "json"):
            by_system[f"openhep_{kind}_nocache"] = by_system[f"openhep_{kind}"]
    return paths


def save_pages(base: str, paths: Sequence[str], root: Path) -> tuple[list[str], dict[str, Any]]:
    """Fetch each page once; store its bytes under ``root`` for nginx; their nginx paths."""
    saved: list[str] = []
    sizes: list[int] = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for path in paths:
            response = client.get(path)
            if response.status_code != 200 or b"<h1" not in response.content:
                raise SystemExit(f"bench/pages: {path} answered {response.status_code}")
            name = f"p/{hashlib.sha256(path.encode()).hexdigest()[:16]}.html"
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(response.content)
            saved.append(f"/{name}")
            sizes.append(len(response.content))
    return saved, {"pages": len(sizes), "mean_bytes": round(sum(sizes) / len(sizes))}


# -- nginx -------------------------------------------------------------------------------------


#: What the pages' nginx adds to its ``http`` block: keep-alive as long as the run, HTML.
PAGES_HTTP = "keepalive_requests 1000000;\n    types { text/html html; }"


def nginx_server(
    search_bench: ModuleType,
    work: Path,
    root: Path,
    workers: int,
    *,
    worker_connections: int = 1024,
    http: str = PAGES_HTTP,
) -> Any:
    """nginx serving ``root`` on the port bench/search.py's ``Server`` picks (``sendfile``,
    no access log); ``http`` is added to its ``http`` block (bench/files.py: a file type)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("bench: nginx not found; run scripts/system-deps.sh")
    prefix = work / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    user = ""
    if os.geteuid() == 0:  # workers drop root, as in any nginx installation
        user = f"user {pwd.getpwnam('nobody').pw_name} nogroup;"
        root.chmod(0o755)
        for path in root.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
    template = prefix / "nginx.conf.in"
    template.write_text(
        f"""
{user}
worker_processes {workers};
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    {http}
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server {{
        listen {search_bench.HOST}:@PORT@;
        root {root};
    }}
}}
""",
        encoding="utf-8",
    )
    conf = prefix / "nginx.conf"
    # The Server picks a free port and puts it where {port} is: the config is written then.
    command = (
        f"sed 's/@PORT@/{{port}}/' {template} > {conf} && "
        f"exec {nginx} -p {prefix} -c {conf} -e {prefix / 'error.log'}"
    )
    return search_bench.Server("nginx", ["sh", "-c", command], dict(os.environ), work / "nginx.log")


# -- load with think time ----------------------------------------------------------------------


async def browsing(
    search_bench: ModuleType,
    port: int,
    targets: Sequence[str],
    clients: int,
    seconds: float,
    think: float,
    samples: Any,
) -> float:
    """``clients`` people browsing: each waits a random pause (exponential, mean ``think``
    seconds; the first one uniform in [0, think)) between an answer and its next request, so
    they do not move in lockstep. Otherwise as bench/search.py's ``closed_loop``."""
    started = time.perf_counter()
    deadline = started + seconds

    async def person(index: int) -> None:
        rng = random.Random(index)
        connection = search_bench.Connection(search_bench.HOST, port)
        i = index
        try:
            await asyncio.sleep(rng.uniform(0, think))
            while time.perf_counter() < deadline:
                target = targets[i % len(targets)]
                i += 1
                sent = time.perf_counter_ns()
                try:
                    status, _ = await asyncio.wait_for(connection.get(target), 60)
                except (OSError, search_bench.h11.ProtocolError, TimeoutError) as exc:
                    connection.close()
                    samples.error(f"{target}: {type(exc).__name__}: {exc}")
                    continue
                if status == 200:
                    samples.ok(target, sent)
                else:
                    samples.error(f"{target}: HTTP {status}")
                pause = rng.expovariate(1 / think)
                if time.perf_counter() + pause >= deadline:
                    break  # its next request would come after the end: it leaves now
                await asyncio.sleep(pause)
        finally:
            connection.close()

    await asyncio.gather(*(person(i) for i in range(clients)))
    return time.perf_counter() - started


def measure(
    search_bench: ModuleType,
    runner: asyncio.Runner,
    server: Any,
    labels: dict[str, str],
    clients: int,
    seconds: float,
    think: float,
) -> dict[str, Any]:
    """bench/search.py's ``measure_http``; with ``think`` > 0, clients that browse (above)."""
    if not think:
        return dict(search_bench.measure_http(runner, server, labels, clients, seconds))
    samples = search_bench.Samples()
    cpu_self, cpu_machine = search_bench.cpu_self, search_bench.cpu_machine
    client_cpu, server_cpu, all_cpu = cpu_self(), server.cpu_seconds(), cpu_machine()
    wall = runner.run(
        browsing(search_bench, server.port, list(labels), clients, seconds, think, samples)
    )
    client_cpu, server_cpu = cpu_self() - client_cpu, server.cpu_seconds() - server_cpu
    other_cpu = max(cpu_machine() - all_cpu - client_cpu - server_cpu, 0.0)
    extra = {
        "clients": clients,
        "seconds": round(wall, 2),
        "client_cpu_cores": round(client_cpu / wall, 2),
        "server_cpu_cores": round(server_cpu / wall, 2),
        "other_cpu_cores": round(other_cpu / wall, 2),
    }
    return dict(search_bench.summarize(samples, wall, extra, labels if len(labels) < 20 else None))


# -- the run -----------------------------------------------------------------------------------


def compare(figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cls in CLASSES:
        static = figures["nginx_static"][cls]
        out[cls] = {}
        for suffix in ("", "_nocache"):
            html = figures[f"openhep_html{suffix}"][cls]
            json_ = figures[f"openhep_json{suffix}"][cls]
            if None in (html["p50_ms"], json_["p50_ms"], static["p50_ms"]):
                continue
            out[cls] |= {
                f"html_over_json_p50{suffix}": round(html["p50_ms"] / json_["p50_ms"], 2),
                f"html_over_json_p95{suffix}": round(html["p95_ms"] / json_["p95_ms"], 2),
                f"html_over_static_p95{suffix}": round(html["p95_ms"] / static["p95_ms"], 2),
            }
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    load_bench("ingest").add_anchors_option(parser)
    parser.add_argument("--quick", action="store_true", help="3-second runs per class")
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds of load per class (default 10)"
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=2, help="openhep serve / nginx workers")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean pause (exponential) of each client between an answer and its next request "
        "(default 0: closed loop)",
    )
    args: argparse.Namespace = load_bench("search").checked_load_options(
        parser, parser.parse_args(argv)
    )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    anchors: Path = args.anchors.resolve()
    paths = sorted(anchors.glob("*.json"))
    if not paths:
        raise SystemExit(f"bench/pages: no record files in {anchors} (--anchors)")
    search_bench = load_bench("search")
    signal.signal(signal.SIGTERM, load_bench("ingest")._terminate)
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    cpu_at_start = search_bench.cpu_self()
    recids, rich = record_sample(paths)
    targets = targets_of(recids)
    result: dict[str, Any] = {
        "bench": "pages",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "baseline": "openhep_json: each page's JSON twin from the same openhep serve "
        "(same search and reads; the difference is the page layer); nginx_static: the same "
        "HTML bytes served as files by nginx (the floor)",
        "volume": f"the real CODP records ({len(paths)} files of {anchors.name})",
        "settings": {
            "clients": args.clients,
            "think_time_ms": args.think_ms,
            "duration_per_class_s": args.duration,
            "workers": args.workers,
        },
        "pages": {
            "home": ["/"],
            "search": targets["search"]["openhep_html"],
            "record_recids": recids,
            "record_rich": rich,
        },
    }
    with (
        tempfile.TemporaryDirectory(prefix="openhep-bench-pages-") as tmp,
        asyncio.Runner(loop_factory=search_bench.new_event_loop) as runner,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        work.chmod(0o755)  # nginx's workers (nobody) read the saved pages below it
        home = work / "openhep-home"
        env = search_bench.openhep_env(home)
        cli = [sys.executable, "-m", "openhep"]
        note(f"openhep ingest + reindex of {anchors}")
        setup = {
            "openhep_ingest": search_bench.run_cli(
                [*cli, "ingest", *map(str, paths), "--batch-size", "10000"], env, "ingest"
            ),
            "openhep_reindex": search_bench.run_cli([*cli, "reindex"], env, "reindex"),
        }
        result["setup_seconds"] = setup
        openhep, nocache = (
            search_bench.Server(
                name,
                [*cli, "serve", "--host", search_bench.HOST, "--port", "{port}",
                 "--workers", str(args.workers), "--no-access-log"],
                env | extra,
                work / f"{name}.log",
            )
            for name, extra in (("openhep", {}), ("openhep_nocache", search_bench.NO_CACHE))
        )  # fmt: skip
        for each in (openhep, nocache):
            stack.callback(each.close)
            each.wait_ready("/api/records/?size=1")
        note("fetching each page once (and saving it for nginx)")
        static_root = work / "static"
        sizes: dict[str, Any] = {}
        for cls in CLASSES:
            saved, sizes[cls] = save_pages(openhep.base, targets[cls]["openhep_html"], static_root)
            targets[cls]["nginx_static"] = saved
        result["html_bytes"] = sizes
        nginx = nginx_server(search_bench, work, static_root, args.workers)
        stack.callback(nginx.close)
        nginx.wait_ready(targets["home"]["nginx_static"][0])
        servers = {
            "openhep_html": openhep,
            "openhep_json": openhep,
            "openhep_html_nocache": nocache,
            "openhep_json_nocache": nocache,
            "nginx_static": nginx,
        }
        names = {"home": ["home"], "search": [q or "(all)" for q in SEARCH_MIX], "record": recids}

        figures: dict[str, dict[str, Any]] = {s: {} for s in SYSTEMS}
        single: dict[str, dict[str, dict[str, Any]]] = {}
        # Classes alternate between the systems, so drift in the machine's load falls on all.
        for cls in CLASSES:
            for system in SYSTEMS:
                server = servers[system]
                labels = dict(zip(targets[cls][system], names[cls], strict=True))
                warm = list(labels)
                runner.run(search_bench.closed_loop(server.port, warm, 2, 1.0, None))
                if system.startswith("openhep_html"):
                    one = search_bench.measure_http(
                        runner, server, labels, 1, max(1.0, args.duration / 4)
                    )
                    single.setdefault(f"{system}_1client", {})[cls] = one
                    note(f"  {system}_1client {cls}: {search_bench.brief(one)}")
                figure = measure(
                    search_bench,
                    runner,
                    server,
                    labels,
                    args.clients,
                    args.duration,
                    args.think_ms / 1000,
                )
                figures[system][cls] = figure
                note(f"  {system} {cls}: {search_bench.brief(figure)}")
        note("cleaning up")
    result |= figures
    result |= single
    result["comparison"] = compare(figures)

    def met(system: str) -> bool:
        return all(
            f["p95_ms"] is not None and f["p95_ms"] <= TARGET_P95_MS and f["errors"] == 0
            for f in figures[system].values()
        )

    result["targets"] = {
        "p95_ms": TARGET_P95_MS,
        "checked_on": "openhep_html (as shipped) and openhep_html_nocache, every class, no errors",
        "met": met("openhep_html"),
        "met_nocache": met("openhep_html_nocache"),
    }
    result["machine"] = search_bench.machine(load_at_start)
    seconds = time.perf_counter() - started
    result["bench_process_cpu_cores"] = round((search_bench.cpu_self() - cpu_at_start) / seconds, 2)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["seconds"] = round(seconds, 1)
    print(orjson.dumps(result).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
