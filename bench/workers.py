"""How ``openhep serve --workers N`` spreads load over its workers, against uvicorn's own workers.

What it measures: requests/s, p50/p95 latency and the server's CPU (cores) of two query classes
of ``bench/search.py`` (``free_text`` and ``record_get``) at the API, over HTTP from
``--clients`` (default 32) closed-loop keep-alive clients, with the answer cache off (every
answer computed), on the 7,535 real CODP records:

* ``openhep_serve``: ``openhep serve --workers N`` (each worker listens on the port with its own
  ``SO_REUSEPORT`` socket; uvicorn's supervisor restarts them);
* ``uvicorn_workers``: the named baseline, the same app under ``uvicorn --workers N`` (uvicorn's
  supervisor, one listening socket shared by the workers), as ``openhep serve`` ran before.

Both servers run throughout; the classes and rounds (``--rounds``, default 2) alternate between
them so drift in the machine's load falls on both. Prints one JSON line on stdout; progress on
stderr. ``--duration`` (default 5 s per class and round), ``--clients``, ``--workers``
(default 2).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _modules import load_bench

CLASSES = ("free_text", "record_get")


def note(message: str) -> None:
    print(f"[bench/workers] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per class and round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per class")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of both")
    load_bench("ingest").add_anchors_option(parser)
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.rounds < 1 or args.clients < 1 or args.workers < 1:
        parser.error("--duration, --rounds, --clients and --workers must be positive")
    search = load_bench("search")
    ingest = load_bench("ingest")
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    result: dict[str, Any] = {
        "bench": "workers",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "baseline": "uvicorn_workers: uvicorn --workers N, one listening socket shared",
        "settings": {
            "clients": args.clients,
            "workers": args.workers,
            "duration_per_class_and_round_s": args.duration,
            "rounds": args.rounds,
            "answer_cache": "off (OPENHEP_ANSWER_CACHE_MB=0)",
        },
    }
    with (
        tempfile.TemporaryDirectory(prefix="openhep-bench-workers-") as tmp,
        asyncio.Runner(loop_factory=search.new_event_loop) as runner,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        inputs = ingest.build_inputs(args.anchors.resolve(), work, grow=False, at_200k_runs=0)
        volume = search.Volume("real_7535", list(inputs.real))
        home = work / "home"
        note(f"openhep ingest + reindex of {len(volume.paths)} record files")
        search.build_openhep(volume, home)
        recids = [int(r["recid"]) for r in search.iter_records(volume.paths)]
        queries = search.search_queries() + search.record_queries(
            random.Random(7535).sample(recids, search.RECORD_SAMPLE)
        )
        env = search.openhep_env(home) | search.NO_CACHE
        py = sys.executable
        servers = {
            "openhep_serve": search.Server(
                "openhep_serve",
                [py, "-m", "openhep", "serve", "--host", search.HOST, "--port", "{port}",
                 "--workers", str(args.workers), "--no-access-log"],
                env,
                work / "openhep_serve.log",
            ),
            "uvicorn_workers": search.Server(
                "uvicorn_workers",
                [py, "-m", "uvicorn", "openhep.web:app_factory", "--factory", "--host",
                 search.HOST, "--port", "{port}", "--workers", str(args.workers),
                 "--no-access-log", "--log-level", "warning"],
                env,
                work / "uvicorn_workers.log",
            ),
        }  # fmt: skip
        for server in servers.values():
            stack.callback(server.close)
            server.wait_ready("/api/records/?size=1")
        figures: dict[str, dict[str, list[dict[str, Any]]]] = {n: {} for n in servers}
        for cls in CLASSES:
            targets = {q.openhep: q.label for q in queries if q.cls == cls}
            for _ in range(args.rounds):
                for name, server in servers.items():
                    runner.run(search.closed_loop(server.port, list(targets), 2, 1.0, None))
                    figure = search.measure_http(
                        runner, server, targets, args.clients, args.duration
                    )
                    figure.pop("per_query_p50_ms", None)
                    figures[name].setdefault(cls, []).append(figure)
                    note(f"{name} {cls}: {search.brief(figure)}")
        for name, by_class in figures.items():
            result[name] = {cls: _median(runs) for cls, runs in by_class.items()}
        result["ratio_rps_openhep_over_uvicorn"] = {
            cls: round(ours["rps"] / theirs["rps"], 2)
            for cls in CLASSES
            for ours, theirs in [(result["openhep_serve"][cls], result["uvicorn_workers"][cls])]
        }
    result["machine"] = search.machine(load_at_start)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(search.orjson.dumps(result).decode(), flush=True)
    return 0


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the rounds (and each round's requests/s)."""
    keys = ("p50_ms", "p95_ms", "rps", "server_cpu_cores", "client_cpu_cores", "other_cpu_cores")
    median = {k: round(statistics.median(r[k] for r in runs), 2) for k in keys}
    median["errors"] = sum(r["errors"] for r in runs)
    median["runs_rps"] = [r["rps"] for r in runs]
    return median


if __name__ == "__main__":
    raise SystemExit(main())
