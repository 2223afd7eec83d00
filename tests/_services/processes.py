"""The processes of a running ``openhep serve``, read from ``/proc``: the server listening on a
port, its children (the workers), whether one is still alive."""

from __future__ import annotations

from pathlib import Path


def serving_pid(port: int) -> int:
    """The ``openhep serve`` process started on ``port`` (its command line names the port)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in argv and b"--port" in argv and str(port).encode() in argv:
                return int(entry.name)
    raise AssertionError(f"no openhep serve on port {port}")


def children(parent: int) -> list[int]:
    """The processes whose parent is ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def cmdline(pid: int) -> bytes:
    """The command line of ``pid`` (NUL-separated), or nothing once it has gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def worker_pids(parent: int) -> list[int]:
    """The worker processes of the ``openhep serve`` process ``parent`` (multiprocessing's
    spawned children)."""
    return [pid for pid in children(parent) if b"spawn_main" in cmdline(pid)]


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
