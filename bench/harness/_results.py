"""What every bench's JSON line carries about its run (the machine, its load, the code
measured) and where it goes: stdout and ``bench/results/<bench>.jsonl``."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sqlite3
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
#: The packages whose versions a JSON line names (those installed).
PACKAGES = (
    "datasette",
    "sqlite-utils",
    "fastapi",
    "uvicorn",
    "tantivy",
    "h11",
    "uvloop",
    "sqlalchemy",
    "psycopg",
)


def machine(load_at_start: float) -> dict[str, Any]:
    """The machine the figures were measured on, and its 1-minute load average at the start
    and the end (other work on a shared machine skews absolute figures)."""
    versions: dict[str, str] = {}
    for name in PACKAGES:
        with contextlib.suppress(Exception):
            versions[name.replace("-", "_")] = version(name)
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024**2, 1)
    return {
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
        "load_average_1min": {
            "start": round(load_at_start, 2),
            "end": round(os.getloadavg()[0], 2),
        },
    }


def add_record_option(parser: argparse.ArgumentParser, bench: str) -> None:
    """``--no-record``: print the JSON line only, leave ``bench/results/<bench>.jsonl``."""
    parser.add_argument(
        "--no-record",
        action="store_true",
        help=f"do not append the JSON line to bench/results/{bench}.jsonl",
    )


def write_result(result: dict[str, Any], *, save: bool = True) -> str:
    """Print the run's one JSON line on stdout and (``save``) append it to
    ``bench/results/<result['bench']>.jsonl``; the line."""
    line = orjson.dumps(result).decode()
    print(line, flush=True)
    if save:
        RESULTS_DIR.mkdir(exist_ok=True)
        with (RESULTS_DIR / f"{result['bench']}.jsonl").open("a", encoding="utf-8") as out:
            out.write(line + "\n")
    return line


def progress(bench: str) -> Callable[[str], None]:
    """A function printing ``[bench/<bench>] message`` lines on stderr."""

    def note(message: str) -> None:
        print(f"[bench/{bench}] {message}", file=sys.stderr, flush=True)

    return note
