"""Pending writes: the journal of store paths being written that no record names yet.

A writer commits its rows *before* the first byte of those paths is written, and they leave the
journal in the transaction that names the files (``Catalog.write(pending=…)``, together with
their replica rows), or once the writer has removed the bytes of a failed add. A row that stays
is a write that never completed: whoever finds its writer gone (``openhep fixity``, the start of
``openhep serve`` and of the ``files`` commands) removes its bytes and then the row. What a
writer is, and when it counts as gone, is the storage layer's business: the catalogue keeps the
rows and makes their removal and the write that completes them exclude each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from openhep.catalog._schema import pending_writes

_CHUNK = 500


class PendingWriteLostError(ValueError):
    """A write whose journal rows are gone: it was taken for abandoned and its bytes removed."""


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """A store path being written (or left by a killed writer), and who writes it."""

    path: str
    operation: str
    written: int
    writer: str
    started_at: datetime
    alive_at: datetime


def complete_pending(conn: Connection, paths: Sequence[str]) -> None:
    """Remove the journal rows of ``paths`` inside the caller's transaction (the one that names
    their files); :class:`PendingWriteLostError` if any is missing, which rolls it back."""
    wanted = list(dict.fromkeys(paths))
    found = 0
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        gone = delete(pending_writes).where(pending_writes.c.path.in_(chunk))
        found += conn.execute(gone).rowcount
    if found != len(wanted):
        raise PendingWriteLostError(
            f"{len(wanted) - found} of the files being added were taken for abandoned (no sign"
            " of their writer for too long) and removed: nothing was changed; add them again"
        )


class PendingWrites:
    """Reading and changing the journal (each call its own committed transaction)."""

    def __init__(self, engine: Engine, writer: Any) -> None:
        self.engine = engine
        self._writer = writer  # a context manager yielding a connection in a write transaction

    def begin(self, paths: Sequence[str], *, operation: str, writer: str, now: datetime) -> None:
        """Journal ``paths`` as being written by ``writer`` (before any of their bytes are)."""
        rows = [
            {
                "path": path,
                "operation": operation,
                "written": 0,
                "writer": writer,
                "started_at": now,
                "alive_at": now,
            }
            for path in dict.fromkeys(paths)
        ]
        with self._writer() as conn:
            for start in range(0, len(rows), _CHUNK):
                conn.execute(insert(pending_writes), rows[start : start + _CHUNK])

    def touch(self, operation: str, path: str, written: int, now: datetime) -> bool:
        """A sign of life of ``operation``'s writer, with the bytes of ``path`` written so far;
        False if its rows are gone (it was taken for abandoned: it must stop)."""
        with self._writer() as conn:
            alive = conn.execute(
                update(pending_writes)
                .where(pending_writes.c.operation == operation)
                .values(alive_at=now)
            ).rowcount
            conn.execute(
                update(pending_writes)
                .where(pending_writes.c.path == path, pending_writes.c.operation == operation)
                .values(written=written)
            )
        return bool(alive)

    def __iter__(self) -> Iterator[PendingWrite]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(pending_writes).order_by(pending_writes.c.path)).all()
        return iter(
            PendingWrite(r.path, r.operation, int(r.written), r.writer, r.started_at, r.alive_at)
            for r in rows
        )

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(pending_writes)).scalar_one())

    def paths(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(pending_writes.c.path)).scalars())

    def forget(self, entry: PendingWrite) -> bool:
        """Remove ``entry``'s row if it is unchanged since it was read (its writer gave no sign
        of life meanwhile, nor completed); True if it was removed: only then may its bytes be
        removed, and the write it belonged to can no longer complete."""
        with self._writer() as conn:
            return bool(
                conn.execute(
                    delete(pending_writes).where(
                        pending_writes.c.path == entry.path,
                        pending_writes.c.operation == entry.operation,
                        pending_writes.c.alive_at == entry.alive_at,
                    )
                ).rowcount
            )

    def finish(self, paths: Sequence[str]) -> None:
        """Remove the rows of ``paths`` whose bytes the writer has removed (a failed add)."""
        wanted = list(dict.fromkeys(paths))
        with self._writer() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                conn.execute(delete(pending_writes).where(pending_writes.c.path.in_(chunk)))
