"""Replicas: the files this instance holds in its store, by store path, with their fixity state."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from openhep.catalog._schema import generations, replicas

ReplicaState = Literal["available", "corrupt"]

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Replica:
    """A stored file: its bytes when written (or last verified), and whether they still are."""

    path: str
    size: int
    checksum: str
    sha256: str | None
    state: ReplicaState
    stored_at: datetime
    checked_at: datetime | None = None
    detail: str | None = None

    @property
    def is_good(self) -> bool:
        return self.state == "available"

    def as_row(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "checksum": self.checksum,
            "sha256": self.sha256,
            "state": self.state,
            "stored_at": self.stored_at,
            "checked_at": self.checked_at,
            "detail": self.detail,
        }


def _replica(row: Any) -> Replica:
    return Replica(
        path=row.path,
        size=row.size,
        checksum=row.checksum,
        sha256=row.sha256,
        state=row.state,
        stored_at=row.stored_at,
        checked_at=row.checked_at,
        detail=row.detail,
    )


def bump_replicas_generation(conn: Connection) -> None:
    """Count one more change of the replicas (inside the caller's transaction)."""
    conn.execute(
        update(generations)
        .where(generations.c.name == "replicas")
        .values(value=generations.c.value + 1)
    )


def put_replicas(conn: Connection, batch: Sequence[Replica]) -> None:
    """Insert or replace ``batch`` inside the caller's transaction."""
    if not batch:
        return
    bump_replicas_generation(conn)
    paths = [r.path for r in batch]
    for start in range(0, len(paths), _CHUNK):
        conn.execute(delete(replicas).where(replicas.c.path.in_(paths[start : start + _CHUNK])))
    conn.execute(insert(replicas), [r.as_row() for r in batch])


class Replicas:
    """Reading and updating the replica table (writes that go with a record change use
    :meth:`openhep.catalog.Catalog.write`'s ``replicas`` argument, in the same transaction)."""

    def __init__(self, engine: Engine, writer: Any) -> None:
        self.engine = engine
        self._writer = writer  # a context manager yielding a connection in a write transaction

    def get(self, path: str) -> Replica | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(replicas).where(replicas.c.path == path)).first()
        return None if row is None else _replica(row)

    def get_many(self, paths: Sequence[str]) -> dict[str, Replica]:
        found: dict[str, Replica] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(paths), _CHUNK):
                chunk = paths[start : start + _CHUNK]
                for row in conn.execute(_MANY, {"paths": chunk}):
                    found[row.path] = _replica(row)
        return found

    def __iter__(self) -> Iterator[Replica]:
        with self.engine.connect() as conn:
            query = select(replicas).order_by(replicas.c.path)
            for row in conn.execution_options(yield_per=1000).execute(query):
                yield _replica(row)

    def count(self) -> int:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(replicas)).scalar_one())

    def put(self, batch: Sequence[Replica]) -> None:
        with self._writer() as conn:
            put_replicas(conn, batch)

    def mark(
        self, path: str, state: ReplicaState, *, checked_at: datetime, detail: str | None = None
    ) -> None:
        """Record the outcome of a fixity check of the replica at ``path``."""
        with self._writer() as conn:
            changed = conn.execute(
                update(replicas)
                .where(replicas.c.path == path, replicas.c.state != state)
                .values(state=state)
            ).rowcount
            conn.execute(
                update(replicas)
                .where(replicas.c.path == path)
                .values(checked_at=checked_at, detail=detail)
            )
            if changed:
                bump_replicas_generation(conn)

    def remove(self, path: str) -> None:
        with self._writer() as conn:
            if conn.execute(delete(replicas).where(replicas.c.path == path)).rowcount:
                bump_replicas_generation(conn)


#: The replicas at a list of paths: built once (building a statement costs more than running it).
_MANY = select(replicas).where(replicas.c.path.in_(bindparam("paths", expanding=True)))
