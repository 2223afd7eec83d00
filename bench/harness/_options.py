"""The options the benches share (the HTTP load; for the search and page benches also the
volumes and the code measured) and their exit on SIGTERM."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from types import FrameType

from bench.harness._volume import VOLUMES, add_anchors_option


def add_http_load_options(
    parser: argparse.ArgumentParser,
    *,
    duration: float | None,
    duration_help: str,
    workers_help: str,
) -> None:
    """``--duration`` (seconds of load), ``--clients`` (concurrent HTTP clients, default 32) and
    ``--workers`` (the servers' worker processes, default 2): the load of an HTTP bench."""
    parser.add_argument("--duration", type=float, default=duration, help=duration_help)
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=2, help=workers_help)


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """The options bench/search.py and bench/pages.py share: the load, the code, the volumes."""
    add_anchors_option(parser)
    parser.add_argument(
        "--quick", action="store_true", help="the real records only, 3-second runs per class"
    )
    parser.add_argument(
        "--volumes",
        nargs="+",
        choices=VOLUMES,
        default=None,
        help="the volumes to measure (default both; --quick: real_7535)",
    )
    add_http_load_options(
        parser,
        duration=None,
        duration_help="seconds of load per class (default 10)",
        workers_help="openhep serve --workers",
    )
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean pause (exponential) of each loaded client between an answer and its next "
        "request (default 0: closed loop)",
    )
    parser.add_argument(
        "--src",
        type=Path,
        default=None,
        help="a checkout whose code (DIR/src first on PYTHONPATH) the openhep subprocesses "
        "run: the code before or after a change, measured by this bench's code",
    )


def checked_load_options(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.Namespace:
    """``--duration`` (default 10 s, 3 s with ``--quick``), the load and ``--src`` checked."""
    if args.duration is None:
        args.duration = 3.0 if args.quick else 10.0
    if args.volumes is None:
        args.volumes = ["real_7535"] if args.quick else list(VOLUMES)
    if args.duration <= 0 or args.clients < 1 or args.workers < 1 or args.think_ms < 0:
        parser.error(
            "--duration, --clients and --workers must be positive, --think-ms not negative"
        )
    if args.src is not None:
        args.src = args.src.resolve() / "src"
        if not (args.src / "openhep" / "__init__.py").is_file():
            parser.error(f"--src: {args.src} holds no openhep package (give a checkout's root)")
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the servers and the temporary files go too."""
    signal.signal(signal.SIGTERM, _terminate)


def first_paragraph(doc: str | None) -> str | None:
    """A bench's ``--help`` description: its docstring's first paragraph on one line."""
    return " ".join(doc.split("\n\n")[0].split()) if doc else None
