"""Time to the first drawn event and events/s served from the real iSpy files
(``data/ispy/*.ig``), by ``openhep.events`` and through the API, against reading the same
entries with the zipfile and json modules directly (the floor).

What is timed, median of ``--repeat`` rounds, each on freshly opened files (the parsed-event
cache of a source starts empty):

* ``package``: ``open_events`` + ``event(i)`` + ``to_json`` + ``orjson.dumps`` — what the API
  does for an event, without HTTP. ``first_event_ms``: open a file and give its event 0 as
  JSON; ``events_per_s``: every event of both files, one after the other;
* ``api``: ``GET /api/records/<recid>/events?file=<key>`` then ``GET …/events/<i>`` for every
  event, on one keep-alive connection, from ``openhep serve`` (one worker) over a fresh
  instance that ``openhep demo`` filled (the iSpy samples are records 990008 and 990009), its
  answer cache off so that every answer is computed — or from the server at ``--url``
  (see ``--file``); ``--no-api`` skips it. ``first_event_ms``: the listing and event 0;
  ``events_per_s``: every event. The server keeps the files it read open (and their parsed
  events): the first round, on a new server, is reported apart (``first_round``);
* ``floor``: ``zipfile.ZipFile`` + ``read`` of the entry + the one substitution the files
  need to be JSON (bare ``nan`` → ``NaN``) + ``json.loads`` — reading the events with
  nothing made of them: no checks, no objects, no drawing data, no JSON out.

``package_over_floor`` is the package's time per event over the floor's (how much the
checks, the model and the drawing data cost). Prints one JSON line on stdout (progress on
stderr), appended to ``bench/results/events.jsonl``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.harness import (
    NO_CACHE,
    READY,
    REPO_ROOT,
    Run,
    add_record_option,
    first_paragraph,
    openhep_cli,
    openhep_env,
    openhep_server,
    progress,
    run_cli,
    source_tree,
)
from openhep.events import open_events

FILES = ("Hto4l_120-130GeV.ig", "DoubleMuParked_Run2012C_0.ig")
#: The demo's records of the iSpy samples (src/openhep/cli/_samples.py): recid:key.
DEFAULT_API_FILES = ("990008:Hto4l_120-130GeV.ig", "990009:DoubleMuParked_Run2012C_0.ig")
_NAN = re.compile(rb"\bnan\b")

note = progress("events")


def package_round(paths: Sequence[Path]) -> tuple[float, float, int]:
    """(seconds to the first event's JSON of the first file, seconds for every event of
    every file, events) on freshly opened sources."""
    started = time.perf_counter()
    first = 0.0
    events = 0
    for path in paths:
        source = open_events(str(path))
        try:
            for index in range(len(source)):
                orjson.dumps(source.event(index).to_json())
                events += 1
                if not first:
                    first = time.perf_counter() - started
        finally:
            source.close()
    return first, time.perf_counter() - started, events


def floor_round(paths: Sequence[Path]) -> tuple[float, float, int]:
    """The same as :func:`package_round` with zipfile + json only."""
    started = time.perf_counter()
    first = 0.0
    events = 0
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if not name.startswith("Events/"):
                    continue
                json.loads(_NAN.sub(b"NaN", archive.read(name)))
                events += 1
                if not first:
                    first = time.perf_counter() - started
    return first, time.perf_counter() - started, events


def api_round(url: str, files: Sequence[tuple[str, str]]) -> tuple[float, float, int]:
    """The same through the API of the server at ``url``."""
    import httpx

    started = time.perf_counter()
    first = 0.0
    events = 0
    with httpx.Client(base_url=url, timeout=60.0, trust_env=False) as http:
        for recid, key in files:
            listing = http.get(f"/api/records/{recid}/events", params={"file": key, "size": 100})
            listing.raise_for_status()
            for found in listing.json()["events"]:
                answer = http.get(
                    f"/api/records/{recid}/events/{found['index']}", params={"file": key}
                )
                answer.raise_for_status()
                answer.json()
                events += 1
                if not first:
                    first = time.perf_counter() - started
    return first, time.perf_counter() - started, events


def demo_server(stack: contextlib.ExitStack, run: Run) -> str:
    """``openhep demo`` into a fresh home, then ``openhep serve`` (one worker, answer cache
    off) over it, ended with ``stack``: its base URL."""
    work, _ = stack.enter_context(run.workspace())
    home = work / "openhep-home"
    note("openhep demo: the CODP records and the sample records, into a fresh home")
    run.result["setup_seconds"] = {
        "openhep_demo": run_cli([*openhep_cli(), "demo"], openhep_env(home), "openhep demo")
    }
    server = stack.enter_context(
        openhep_server("openhep", home, work / "openhep.log", 1, env=NO_CACHE)
    )
    server.wait_ready(READY)
    return server.base


def summary(rounds: list[tuple[float, float, int]]) -> dict[str, Any]:
    events = rounds[0][2]
    total = statistics.median(r[1] for r in rounds)
    return {
        "first_event_ms": round(statistics.median(r[0] for r in rounds) * 1000, 2),
        "events_per_s": round(events / total, 1),
        "ms_per_event": round(total / events * 1000, 2),
        "events": events,
        "rounds": len(rounds),
    }


def measure(
    name: str, one: Callable[[], tuple[float, float, int]], repeat: int
) -> tuple[dict[str, Any], list[tuple[float, float, int]]]:
    rounds = [one() for _ in range(repeat)]
    figure = summary(rounds)
    note(f"{name}: first event {figure['first_event_ms']} ms, {figure['events_per_s']} events/s")
    return figure, rounds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=first_paragraph(__doc__))
    parser.add_argument("--repeat", type=int, default=5, help="rounds per method (median)")
    parser.add_argument(
        "--ispy", type=Path, default=REPO_ROOT / "data" / "ispy", help="folder of the .ig files"
    )
    parser.add_argument(
        "--url", help="time the API of this OpenHEP server (default: start one, see above)"
    )
    parser.add_argument("--no-api", action="store_true", help="time the package and floor only")
    parser.add_argument(
        "--file",
        action="append",
        metavar="RECID:KEY",
        help=f"a record's .ig file the API serves (default: {', '.join(DEFAULT_API_FILES)})",
    )
    add_record_option(parser, "events")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    paths = [args.ispy / name for name in FILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"missing iSpy files: {', '.join(missing)}")
    api_files = [tuple(f.split(":", 1)) for f in (args.file or DEFAULT_API_FILES)]
    if any(len(f) != 2 or not f[0] or not f[1] for f in api_files):
        parser.error("--file takes RECID:KEY")
    run = Run(
        "events",
        code=source_tree(None),
        baseline="floor: zipfile + json.loads (bare nan made NaN) of the same entries",
        settings={"repeat": args.repeat, "files": list(FILES), "url": args.url},
    )
    result = run.result
    # An untimed pass: imports, page cache, the first-use costs of each method.
    package_round(paths)
    floor_round(paths)
    result["package"], _ = measure("package", lambda: package_round(paths), args.repeat)
    result["floor"], _ = measure("floor", lambda: floor_round(paths), args.repeat)
    if result["package"]["events"] != result["floor"]["events"]:
        note("the package and the floor read different numbers of events")
        return 1
    result["package_over_floor"] = round(
        result["package"]["ms_per_event"] / result["floor"]["ms_per_event"], 2
    )
    if not args.no_api:
        pairs = [(recid, key) for recid, key in api_files]
        with contextlib.ExitStack() as stack:
            url = args.url or demo_server(stack, run)
            cold = api_round(url, pairs)
            result["api"], _ = measure("api", lambda: api_round(url, pairs), args.repeat)
        result["api"]["first_round"] = summary([cold])
        result["api"]["server"] = args.url or "openhep serve --workers 1, answer cache off"
        result["api_over_package"] = round(
            result["api"]["ms_per_event"] / result["package"]["ms_per_event"], 2
        )
    run.finish(save=not args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
