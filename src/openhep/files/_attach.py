"""Attaching files to a record: the one conditional write of a record's new version, retried.

Bytes are stored at paths of their own before the record names them (see ``_journal``), and
the record may change meanwhile (another add, a re-ingest). So every add — ``files add``, the
upload API, a file index, publishing, expanding index files — writes through :func:`attach`:
read the record's current version, change it, write it on condition that it is still the
version read, in one transaction with the replicas of the new bytes, any file index entries
and the completion of the add's pending writes; if it changed in between, read it again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from openhep.catalog import (
    Catalog,
    CatalogConflictError,
    RecordNotFoundError,
    Replica,
    StoredRecord,
    WriteResult,
)
from openhep.model import Record
from openhep.storage import Digests

#: How often a write is tried when the record changed while the add's bytes streamed in.
WRITE_ATTEMPTS = 5

#: The files listed by a record's file indices, by index key: what the catalogue keeps of them.
IndexEntries = Mapping[str, Sequence[Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class AddedFile:
    """A file added to a record: its ``files[]`` entry and what was measured while storing it."""

    entry: dict[str, Any]
    path: str
    digests: Digests


@dataclass(frozen=True, slots=True)
class Revision:
    """What one attempt writes: the record's next version and, if any, its file indices'
    contents (replacing those of the same keys)."""

    record: Record
    file_index_entries: IndexEntries | None = None


def replicas_of(added: Sequence[AddedFile], now: datetime) -> list[Replica]:
    """The replica rows of files just stored (verified as they were written)."""
    return [
        Replica(a.path, a.digests.size, a.digests.adler32, a.digests.sha256, "available", now, now)
        for a in added
    ]


def attach(
    catalog: Catalog,
    recid: str,
    revise: Callable[[StoredRecord | None], Revision | None],
    *,
    stored_files: Sequence[AddedFile] = (),
    pending: Sequence[str] = (),
    create: bool = False,
) -> tuple[StoredRecord | None, WriteResult | None]:
    """Write ``revise(current)`` as record ``recid``'s next version, on condition that the
    current version is still the one read, with the replicas of ``stored_files`` and the
    completion of the ``pending`` writes, in one transaction; tried :data:`WRITE_ATTEMPTS`
    times while the record keeps changing (then :class:`CatalogConflictError`).

    ``revise`` gets the version read (None: no such record, only with ``create``; otherwise
    :class:`RecordNotFoundError`) and returns what to write, or None for nothing. Returns the
    version the write was based on and the catalogue's result (None if nothing was written).
    """
    for attempt in range(WRITE_ATTEMPTS):
        try:
            stored: StoredRecord | None = catalog.get(recid, include_embargoed=True)
        except RecordNotFoundError:
            if not create:
                raise
            stored = None
        revision = revise(stored)
        if revision is None:
            return stored, None
        now = datetime.now(UTC)
        entries = revision.file_index_entries
        try:
            result = catalog.write(
                [revision.record],
                replicas=replicas_of(stored_files, now),
                expect_versions={recid: stored.version if stored is not None else 0},
                file_index_entries={recid: entries} if entries else None,
                now=now,
                pending=pending,
            )
        except CatalogConflictError:
            if attempt == WRITE_ATTEMPTS - 1:
                raise
            continue
        return stored, result
    raise AssertionError("unreachable")
