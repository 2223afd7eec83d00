"""Journaled writes: adding files so that a crash at any point leaves nothing no record names.

Why a journal: a file reaches its final path (a rename) before the catalogue transaction that
names it commits, and the two cannot be one atomic step (the store is a file system or an
XRootD server, the catalogue a database). So each add commits *pending writes* rows (path,
bytes written, who writes, when) in a transaction of their own *before* any byte is written;
bytes go to ``.partial/`` and are renamed into place; then one transaction names the files
(record version, replica rows) and removes those rows (``Catalog.write(pending=…)``). A
process killed in between leaves rows whose writer is gone: ``_orphans`` removes their bytes.

Who writes is kept as a small JSON object: host, boot id, pid namespace, pid and the process's
start time (Linux ``/proc``). On the same machine that tells *at once* whether the writer still
runs (a pid reused by another process has another start time), so the next command after a
``kill -9`` cleans up; a writer on another node is judged by its last sign of life (a heartbeat
every :data:`HEARTBEAT_SECONDS` while bytes stream) against a grace period.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from openhep.catalog import Catalog, PendingWriteLostError
from openhep.storage import Store, UnsafePathError

#: How often a writer says it is alive while its bytes stream in.
HEARTBEAT_SECONDS = 60.0
#: How long a pending write of a writer that cannot be checked directly (another machine) may
#: go without a sign of life before it is taken for abandoned: many missed heartbeats, and
#: more than the clocks of two nodes differ by.
DEFAULT_GRACE_SECONDS = 900.0

WriterState = Literal["alive", "gone", "unknown"]


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _start_time(pid: int) -> str:
    """The start time of process ``pid`` in clock ticks since boot ('' if none or unknown)."""
    stat = _read(f"/proc/{pid}/stat")
    # The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split() if ")" in stat else []
    return fields[19] if len(fields) > 19 else ""


@cache
def _machine() -> dict[str, str]:
    pidns = ""
    with contextlib.suppress(OSError):
        pidns = str(Path("/proc/self/ns/pid").readlink())
    return {
        "host": socket.gethostname(),
        "boot": _read("/proc/sys/kernel/random/boot_id"),
        "pidns": pidns,
    }


def this_writer() -> str:
    """Who this process is, as a pending write records it."""
    command = " ".join(["openhep", *sys.argv[1:3]])[:200]
    pid = os.getpid()
    return json.dumps({**_machine(), "pid": pid, "start": _start_time(pid), "command": command})


def writer_state(writer: str) -> WriterState:
    """Whether the writer of a pending write still runs: ``alive`` and ``gone`` are certain
    (a process of this machine); ``unknown`` is for another machine's (its heartbeat decides)."""
    try:
        who: dict[str, Any] = json.loads(writer)
        pid = int(who["pid"])
    except (ValueError, TypeError, KeyError):
        return "unknown"
    machine = _machine()
    if any(who.get(k) != machine[k] for k in ("host", "boot", "pidns")):
        return "unknown"
    if machine["boot"]:  # Linux: the start time tells a reused pid from the writer
        start = _start_time(pid)
        return "alive" if start and start == who.get("start") else "gone"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except OSError:
        pass
    return "unknown"  # a process with that pid runs, but maybe not the writer


def describe_writer(writer: str) -> str:
    """``openhep files add (pid 1234 on host)`` for a pending write's writer."""
    try:
        who = json.loads(writer)
        return f"{who['command']} (pid {who['pid']} on {who['host']})"
    except (ValueError, TypeError, KeyError):
        return writer[:200]


def _now() -> datetime:
    return datetime.now(UTC)


class JournaledWrite:
    """The writes of one add (files, an upload, a file index), journaled while they happen.

    ``with JournaledWrite(catalog, store, paths) as journal:`` commits the pending rows of every
    path the add may write before anything is written; the store writes go through
    :meth:`track` (a heartbeat) and :meth:`landed`; the catalogue write that names the files
    passes ``pending=journal.paths``. If the block raises, the bytes that landed (and are not
    named) are removed and then the rows of the paths known to hold nothing; a row whose bytes
    could not be removed stays, for the recovery to retry once this process is gone.
    """

    def __init__(self, catalog: Catalog, store: Store, paths: Sequence[str]) -> None:
        self.catalog, self.store = catalog, store
        self.paths = list(dict.fromkeys(paths))
        self.operation = uuid.uuid4().hex
        self._landed: list[str] = []
        self._current: str | None = None

    def __enter__(self) -> JournaledWrite:
        self.catalog.pending.begin(
            self.paths, operation=self.operation, writer=this_writer(), now=_now()
        )
        return self

    def track(self, path: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """``chunks`` as they go to ``path``, telling the journal every so often that this
        writer is alive (:class:`PendingWriteLostError` if it was taken for abandoned)."""
        self._current = path
        written = 0
        last = time.monotonic()
        for chunk in chunks:
            written += len(chunk)
            if time.monotonic() - last >= HEARTBEAT_SECONDS:
                if not self.catalog.pending.touch(self.operation, path, written, _now()):
                    raise PendingWriteLostError(
                        "this add was taken for abandoned (no sign of it for too long) and its"
                        " files removed: nothing was changed; add the files again"
                    )
                last = time.monotonic()
            yield chunk

    def landed(self, path: str) -> None:
        """The bytes of ``path`` are in their final place."""
        self._landed.append(path)
        self._current = None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            return
        # A rename may have happened just before the failure: the path in flight too.
        written = [*self._landed, *([self._current] if self._current else [])]
        # Bytes a replica row names were committed with their record (a failure after the
        # commit): they are the record's now, never removed here.
        named = self.catalog.replicas.get_many(written) if written else {}
        kept: set[str] = set()
        for path in written:
            if path in named:
                continue
            try:
                self.store.remove(path)
            except FileNotFoundError:
                pass
            except (OSError, UnsafePathError):
                kept.add(path)
        # Best effort: if the catalogue cannot be reached either, the rows stay and the
        # recovery removes what is left once this process has ended.
        with contextlib.suppress(Exception):
            self.catalog.pending.finish([p for p in self.paths if p not in kept])
