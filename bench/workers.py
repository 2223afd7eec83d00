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
import contextlib
import statistics
import sys
from collections.abc import Sequence
from typing import Any

from bench.harness import (
    HOST,
    NO_CACHE,
    READY,
    Pool,
    Run,
    Server,
    Vocabulary,
    add_anchors_option,
    add_http_load_options,
    add_record_option,
    brief,
    build_inputs,
    build_openhep,
    encode,
    first_paragraph,
    iter_records,
    listing_mix,
    measure_http,
    openhep_env,
    openhep_server,
    progress,
    source_tree,
    volumes_of,
    warm_up,
)

CLASSES = ("free_text", "record_get")


note = progress("workers")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=first_paragraph(__doc__))
    add_http_load_options(
        parser,
        duration=5.0,
        duration_help="seconds per class and round",
        workers_help="worker processes of both",
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds per class")
    add_anchors_option(parser)
    add_record_option(parser, "workers")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.rounds < 1 or args.clients < 1 or args.workers < 1:
        parser.error("--duration, --rounds, --clients and --workers must be positive")
    run = Run(
        "workers",
        code=source_tree(None),
        baseline="uvicorn_workers: uvicorn --workers N, one listening socket shared",
        settings={
            "clients": args.clients,
            "workers": args.workers,
            "duration_per_class_and_round_s": args.duration,
            "rounds": args.rounds,
            "answer_cache": "off (OPENHEP_ANSWER_CACHE_MB=0)",
        },
    )
    result = run.result
    with run.workspace() as (work, runner), contextlib.ExitStack() as stack:
        volume = volumes_of(build_inputs(args.anchors.resolve(), work, grow=False))["real_7535"]
        home = work / "home"
        note(f"openhep ingest + reindex of {len(volume.paths)} record files")
        build_openhep(volume, home)
        records = list(iter_records(volume.paths))
        mix = {
            "free_text": [
                f"/api/records/?{encode([*q.openhep, ('size', '10')])}"
                for q in listing_mix(Vocabulary.of(records))["free_text"]
            ],
            "record_get": [f"/api/records/{r['recid']}" for r in records],
        }
        servers = {
            "openhep_serve": openhep_server(
                "openhep_serve", home, work / "openhep_serve.log", args.workers, env=NO_CACHE
            ),
            "uvicorn_workers": Server(
                "uvicorn_workers",
                [sys.executable, "-m", "uvicorn", "openhep.web:app_factory", "--factory", "--host",
                 HOST, "--port", "{port}", "--workers", str(args.workers),
                 "--no-access-log", "--log-level", "warning"],
                openhep_env(home) | NO_CACHE,
                work / "uvicorn_workers.log",
            ),
        }  # fmt: skip
        for server in servers.values():
            stack.enter_context(server).wait_ready(READY)
        figures: dict[str, dict[str, list[dict[str, Any]]]] = {n: {} for n in servers}
        # The same real queries in the same order for both servers.
        pools = {(name, cls): Pool(mix[cls]) for name in servers for cls in CLASSES}
        for cls in CLASSES:
            for _ in range(args.rounds):
                for name, server in servers.items():
                    warm_up(runner, server, pools[name, cls])
                    figure = measure_http(
                        runner, server, pools[name, cls], args.clients, args.duration
                    )
                    figures[name].setdefault(cls, []).append(figure)
                    note(f"{name} {cls}: {brief(figure)}")
        for name, by_class in figures.items():
            result[name] = {cls: _median(runs) for cls, runs in by_class.items()}
        result["ratio_rps_openhep_over_uvicorn"] = {
            cls: round(ours["rps"] / theirs["rps"], 2)
            for cls in CLASSES
            for ours, theirs in [(result["openhep_serve"][cls], result["uvicorn_workers"][cls])]
        }
    run.finish(save=not args.no_record, process_cpu=False, peak_rss=False)
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
