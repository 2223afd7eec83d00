"""CPU and memory meters: a process tree's CPU time and resident memory, the whole machine's
CPU time, and what everything else on the machine used while a bench ran."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import time
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _process_table() -> dict[int, tuple[int, float]]:
    """pid → (parent pid, CPU seconds of it and its reaped children) of every process."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            # after the command name: state ppid … utime(12) stime(13) cutime(14) cstime(15)
            cpu = sum(int(f) for f in fields[11:15]) / _TICKS
            stats[int(entry.name)] = (int(fields[1]), cpu)
    return stats


def _tree(root: int, parents: dict[int, int]) -> list[int]:
    tree, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree += children
        frontier += children
    return tree


def tree_cpu_seconds(root: int) -> float:
    """user + system (+ reaped children's) CPU seconds of ``root`` and its descendants."""
    stats = _process_table()
    tree = _tree(root, {pid: ppid for pid, (ppid, _) in stats.items()})
    return sum(stats[pid][1] for pid in tree if pid in stats)


def cpu_machine() -> float:
    """CPU seconds the whole machine has been busy (all processes, all cores)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICKS


def cpu_self() -> float:
    """CPU seconds of this process (the load generator) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> int:
    """This process's peak resident memory (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


class OtherLoad:
    """The CPU (in cores) everything outside this process's tree used from its creation to
    ``cores()``: other people's work on a shared machine, which skews absolute figures."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._machine = cpu_machine()
        self._ours = tree_cpu_seconds(os.getpid())

    def cores(self) -> float:
        ours = tree_cpu_seconds(os.getpid()) - self._ours
        other = max(cpu_machine() - self._machine - ours, 0.0)
        return round(other / max(time.monotonic() - self._started, 1e-9), 2)


def tree_rss_mib(root: int) -> dict[str, float]:
    """VmRSS (MiB) of ``root`` and each of its descendants, by ``pid:name``."""
    tree = _tree(root, {pid: ppid for pid, (ppid, _) in _process_table().items()})
    found: dict[str, float] = {}
    for pid in tree:
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
            name = re.search(r"^Name:\s+(\S+)", status, re.M)
            if rss:
                found[f"{pid}:{name.group(1) if name else '?'}"] = round(
                    int(rss.group(1)) / 1024, 1
                )
    return found


def memory(root: int) -> dict[str, object]:
    """The resident memory of a server's process tree, in all and by process."""
    by_process = tree_rss_mib(root)
    return {"total_mib": round(sum(by_process.values()), 1), "by_process_mib": by_process}
