"""One bench run from its start to its JSON line: the clock, this process's CPU and the
machine's load from the start, the fields the line begins and ends with, and the scratch
folder and event loop the run works in."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness._load import new_event_loop
from bench.harness._meters import OtherLoad, cpu_self, peak_rss_mib
from bench.harness._options import exit_on_sigterm
from bench.harness._results import machine, write_result


class Run:
    """A bench's run, begun when made: ``result`` is its JSON line, which starts with
    ``bench``, ``when`` and then ``head`` in the order given; :meth:`finish` ends it. From
    the start, SIGTERM unwinds the run like Ctrl-C (its servers and temporary files go too)."""

    def __init__(self, bench: str, **head: Any) -> None:
        exit_on_sigterm()
        self.bench = bench
        self.started = time.perf_counter()
        self.load_at_start = os.getloadavg()[0]
        self.cpu_at_start = cpu_self()
        self.other = OtherLoad()
        self.result: dict[str, Any] = {
            "bench": bench,
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            **head,
        }

    @contextmanager
    def workspace(self, *, readable: bool = False) -> Iterator[tuple[Path, asyncio.Runner]]:
        """A temporary folder for the run's volumes, instances and logs (``readable`` by
        everyone: nginx's workers run as nobody) and the event loop of the load generator;
        both gone on the way out."""
        with (
            tempfile.TemporaryDirectory(prefix=f"openhep-bench-{self.bench}-") as tmp,
            asyncio.Runner(loop_factory=new_event_loop) as runner,
        ):
            work = Path(tmp)
            if readable:
                work.chmod(0o755)
            yield work, runner

    def finish(
        self, *, save: bool, process_cpu: bool = True, peak_rss: bool = True
    ) -> dict[str, Any]:
        """End the JSON line: the machine, what everything else on it used meanwhile, this
        process's CPU in cores (``process_cpu``) and its peak memory (``peak_rss``), the
        seconds taken. Print it and (``save``) append it to ``bench/results/<bench>.jsonl``."""
        result = self.result
        result["machine"] = machine(self.load_at_start)
        result["other_cpu_cores"] = self.other.cores()
        seconds = time.perf_counter() - self.started
        if process_cpu:
            result["bench_process_cpu_cores"] = round((cpu_self() - self.cpu_at_start) / seconds, 2)
        if peak_rss:
            result["peak_rss_mib"] = peak_rss_mib()
        result["seconds"] = round(seconds, 1)
        write_result(result, save=save)
        return result


def command_line(bench: str, argv: Sequence[str] | None) -> str:
    """How the run was asked for: ``python -m bench.<bench>`` and its arguments."""
    return f"python -m bench.{bench} " + " ".join(sys.argv[1:] if argv is None else argv)
