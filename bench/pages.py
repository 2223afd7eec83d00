"""Latency of the HTML pages (home, search, record) over HTTP on a realistic mix of real
pages, with the answer cache on and off, against their JSON twins and against nginx serving
the same pages pre-rendered.

What it measures: ``openhep serve --workers N`` over a volume (the 7,535 real CODP records,
``real_7535``, and/or the ≥ 200,000 records grown from them, ``grown_200k``; bench/search.py's
volumes; ``openhep ingest`` + ``openhep reindex``), loaded over loopback by ``--clients``
(default 32) closed-loop clients on keep-alive connections (the harness's load generator:
asyncio + h11), each sending its next request as soon as its last one is answered. With
``--think-ms T`` the clients browse instead: each pauses a random time (exponential, mean T;
the first pause uniform in [0, T)) between an answer and its next request. Three classes:

* ``home``: ``/`` (one search: facet counts and the six latest records);
* ``search``: ``/search?…``, the listing queries of bench/search.py's realistic mix built
  from the volume's records (≥ 10,000 distinct: free text, fielded queries, facet filters and
  their combinations, sorts) — every page with its facets;
* ``record``: ``/record/<recid>``, every recid of the volume.

Each class's pages are shuffled once (seed 7535) and every server takes them in that order,
each page at most once until all were sent (warm-up, one-client and loaded runs continue
where the last stopped), so the answer cache sees a realistic mix; each figure gives its
``pool``, ``distinct_sent`` and ``cache_hit_ratio``. Each class is measured on five systems,
in the same run, by the same load generator:

* ``openhep_html``: the pages as shipped (``openhep serve`` keeps each answer until the
  catalogue changes);
* ``openhep_html_nocache`` and ``openhep_json_nocache``: the same from a second server with
  ``OPENHEP_ANSWER_CACHE_MB=0``, where every page is rendered for its request;
* ``openhep_json`` — **the named baseline**: each page's JSON twin from the same server
  processes (``/api/records/?…`` with the same parameters; ``/api/records/?size=6&sort=
  mostrecent`` for the home page; ``/api/records/<recid>`` for a record page). Same search,
  same catalogue reads, same workers: the difference is what turning the answer into a page
  costs (templating, facet links, sanitising record HTML), the page layer's own work;
* ``nginx_static``: the floor — Debian's nginx (``worker_processes N``, ``sendfile on``)
  serving the HTML bytes of a sample of the pages (``--static-sample`` per class, fetched
  once before timing and stored as files): what serving pages would cost if nothing had to
  be computed per request.

``--src DIR`` runs every ``openhep`` subprocess on the code of the checkout ``DIR``
(bench/search.py). Every response must be 200 (anything else counts under ``errors``). Each
figure has ``p50_ms``/``p95_ms``/``p99_ms`` (per request, nearest rank), ``rps`` and the CPU
(cores) the load generator, the server and everything else on the machine used meanwhile.
``html_over_json`` is the HTML page's latency ÷ its twin's at p50 and p95. The target is p95
≤ 30 ms for every class of ``openhep_html``, with no errors; ``met_nocache`` says whether it
holds with the cache off too.

Prints one JSON line on stdout and appends it to ``bench/results/pages.jsonl``; progress goes
to stderr. ``--quick`` runs 3 s per class on the real records; ``--volumes``, ``--duration``,
``--clients``, ``--workers`` and ``--think-ms`` set the load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    Pool,
    Run,
    Vocabulary,
    Volume,
    add_load_options,
    add_record_option,
    brief,
    build_inputs,
    build_openhep,
    cached_and_uncached,
    checked_load_options,
    command_line,
    describe_volume,
    encode,
    first_paragraph,
    iter_records,
    listing_mix,
    measure_http,
    nginx_server,
    progress,
    source_tree,
    volumes_of,
    warm_up,
)

note = progress("pages")
CLASSES = ("home", "search", "record")
SYSTEMS = (
    "openhep_html",
    "openhep_json",
    "openhep_html_nocache",
    "openhep_json_nocache",
    "nginx_static",
)
TARGET_P95_MS = 30.0
HOME_TWIN = "/api/records/?size=6&sort=mostrecent"


# -- the pages -------------------------------------------------------------------------------


def pages_of(volume: Volume) -> dict[str, list[tuple[str, str]]]:
    """Per class, (page, JSON twin) of every page of the mix, built from the volume's records."""
    vocabulary = Vocabulary.of(())
    recids: list[str] = []
    for record in iter_records(volume.paths):
        vocabulary.add(record)
        recids.append(str(record["recid"]))
    volume.records = len(recids)
    searches = [encode(q.openhep) for queries in listing_mix(vocabulary).values() for q in queries]
    return {
        "home": [("/", HOME_TWIN)],
        "search": [(f"/search?{q}", f"/api/records/?{q}") for q in dict.fromkeys(searches)],
        "record": [(f"/record/{r}", f"/api/records/{r}") for r in recids],
    }


def save_pages(base: str, paths: Sequence[str], root: Path) -> tuple[list[str], dict[str, Any]]:
    """Fetch each page once; store its bytes under ``root`` for nginx; their nginx paths."""
    saved: list[str] = []
    sizes: list[int] = []
    with httpx.Client(base_url=base, timeout=120, trust_env=False) as client:
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


# -- one volume ------------------------------------------------------------------------------


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


def measure_volume(
    volume: Volume, work: Path, args: argparse.Namespace, runner: asyncio.Runner
) -> dict[str, Any]:
    pages = pages_of(volume)
    home = work / volume.name / "openhep-home"
    home.parent.mkdir(parents=True)
    note(f"{volume.name}: openhep ingest + reindex of {volume.records:,} records")
    build_openhep(volume, home, args.src)
    result: dict[str, Any] = {
        "records": volume.records,
        "pages": {cls: len(found) for cls, found in pages.items()},
        "examples": {cls: [p for p, _ in found[:3]] for cls, found in pages.items()},
    }
    with contextlib.ExitStack() as stack:
        openhep, nocache = cached_and_uncached(
            stack, home, work / volume.name, args.workers, args.src
        )
        note(f"{volume.name}: saving a sample of each class's pages for nginx")
        static_root = work / volume.name / "static"
        static: dict[str, list[str]] = {}
        sizes: dict[str, Any] = {}
        for cls in CLASSES:
            sample = random.Random(7535).sample(
                [p for p, _ in pages[cls]], min(args.static_sample, len(pages[cls]))
            )
            static[cls], sizes[cls] = save_pages(nocache.base, sample, static_root)
        result["html_bytes_of_static_sample"] = sizes
        nginx = stack.enter_context(nginx_server(work / volume.name, static_root, args.workers))
        nginx.wait_ready(static["home"][0])
        servers = {
            "openhep_html": openhep,
            "openhep_json": openhep,
            "openhep_html_nocache": nocache,
            "openhep_json_nocache": nocache,
            "nginx_static": nginx,
        }
        # Each server takes each class's pages in one shuffled order, the same on every one.
        pools = {
            (system, cls): Pool(
                static[cls]
                if system == "nginx_static"
                else [pair["json" in system] for pair in pages[cls]]
            )
            for system in SYSTEMS
            for cls in CLASSES
        }
        figures: dict[str, dict[str, Any]] = {s: {} for s in SYSTEMS}
        # Classes alternate between the systems, so drift in the machine's load falls on all.
        for cls in CLASSES:
            for system in SYSTEMS:
                server, pool = servers[system], pools[system, cls]
                warm_up(runner, server, pool)
                if system.startswith("openhep_html"):
                    one = measure_http(runner, server, pool, 1, max(1.0, args.duration / 4))
                    result.setdefault(f"{system}_1client", {})[cls] = one
                    note(f"  {system}_1client {cls}: {brief(one)}")
                figure = measure_http(
                    runner, server, pool, args.clients, args.duration, think=args.think_ms / 1000
                )
                figures[system][cls] = figure
                note(f"  {system} {cls}: {brief(figure)}")
    result |= figures
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
    result["setup_seconds"] = volume.setup_seconds
    return result


# -- the run ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=first_paragraph(__doc__))
    add_load_options(parser)
    parser.add_argument(
        "--static-sample",
        type=int,
        default=300,
        help="pages of each class saved for nginx to serve (default 300)",
    )
    add_record_option(parser, "pages")
    args = checked_load_options(parser, parser.parse_args(argv))
    if args.static_sample < 1:
        parser.error("--static-sample must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    anchors: Path = args.anchors.resolve()
    run = Run(
        "pages",
        baseline="openhep_json: each page's JSON twin from the same openhep serve "
        "(same search and reads; the difference is the page layer); nginx_static: a sample "
        "of the same HTML bytes served as files by nginx (the floor)",
        code=source_tree(args.src),
        command=command_line("pages", argv),
        settings={
            "clients": args.clients,
            "think_time_ms": args.think_ms,
            "duration_per_class_s": args.duration,
            "single_client_duration_per_class_s": max(1.0, args.duration / 4),
            "workers": args.workers,
            "static_sample_per_class": args.static_sample,
            "mix": "realistic: each class's distinct real pages in one shuffled order, each "
            "sent at most once per server until all were",
        },
    )
    result = run.result
    # Readable by all: nginx's workers (nobody) read the saved pages below it.
    with run.workspace(readable=True) as (work, runner):
        note("building the volumes")
        inputs = build_inputs(anchors, work, grow="grown_200k" in args.volumes)
        volumes = volumes_of(inputs)
        result["volume"] = {
            name: describe_volume(inputs) if name == "grown_200k" else
            f"the {inputs.real_records:,} real CODP records ({len(inputs.real)} files)"
            for name in args.volumes
        }  # fmt: skip
        for name in args.volumes:
            result[name] = measure_volume(volumes[name], work, args, runner)
        note("cleaning up")
    run.finish(save=not args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
