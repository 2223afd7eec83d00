"""Publishing a record together with the bytes of its files, in one version, idempotently."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from openhep.catalog import RecordNotFoundError, StoredRecord
from openhep.files._attach import AddedFile, Revision, attach
from openhep.files._service import (
    CorruptFileError,
    FileNotServedError,
    FileService,
    upload_prefix,
)
from openhep.model import file_key, validate_record
from openhep.storage import CHUNK_SIZE, Digester, UnsafePathError, file_name

Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class PublishResult:
    recid: str
    outcome: Outcome
    files: list[dict[str, Any]]
    stored: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "recid": self.recid,
            "outcome": self.outcome,
            "stored": self.stored,
            "files": self.files,
        }


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_SIZE):
            yield chunk


def _measure(path: Path) -> tuple[int, str]:
    digester = Digester(sha256=False)
    for chunk in _chunks(path):
        digester.update(chunk)
    digests = digester.digests()
    return digests.size, digests.adler32


def _held(service: FileService, entry: dict[str, Any]) -> bool:
    """Whether the bytes of a record's file are here, good and of the size it says."""
    path = service.path_of(str(entry["uri"]))
    if path is None:
        return False
    try:
        served = service.servable(path)
    except (FileNotServedError, CorruptFileError, UnsafePathError):
        return False
    return (served.size, served.checksum) == (entry["size"], entry["checksum"])


def publish_record(
    service: FileService, data: dict[str, Any], sources: Sequence[tuple[str, Path]]
) -> PublishResult:
    """Create or update the record ``data`` (CODP JSON without ``files``) with ``sources``.

    Each source (key, local file) is stored under ``eos/opendata/openhep/<recid>/<id>/<key>``
    with the size and adler32 measured while storing, unless the record already holds a file
    of that key with the same size and checksum whose bytes are here: then that entry is kept,
    so publishing the same record and files again changes nothing (no new version). The record
    and the replicas of its new files are written in one transaction (``_attach``: retried if
    the record changed meanwhile); a failure removes the bytes stored, and a crash leaves them
    journaled (``FileService.journal``).
    """
    recid = str(data["recid"])
    keys = [file_name(key) for key, _ in sources]
    if len(set(keys)) != len(keys):
        raise ValueError("each file of a record needs its own key")
    try:
        existing = service.catalog.get(recid, include_embargoed=True)
    except RecordNotFoundError:
        existing = None
    current = {file_key(f): f for f in (existing.metadata.get("files", []) if existing else [])}
    reusable = {
        key: entry for key, entry in current.items() if key in keys and _held(service, entry)
    }
    prefix = upload_prefix(recid)
    added: list[AddedFile] = []
    entries: list[dict[str, Any]] = []
    paths = [f"{prefix}/{key}" for key in keys]
    with service.journal(paths) as journal:
        for (key, path), store_path in zip(sources, paths, strict=True):
            kept = reusable.get(key)
            if kept is not None and (kept["size"], kept["checksum"]) == _measure(path):
                entries.append(dict(kept))
                continue
            stored = service.store_file(store_path, _chunks(path), key=key, journal=journal)
            added.append(stored)
            entries.append(stored.entry)
        record = validate_record({**data, "files": entries})

        def revise(_: StoredRecord | None) -> Revision:
            # The record is what was published, whatever version it replaces.
            return Revision(record)

        _, result = attach(
            service.catalog,
            recid,
            revise,
            stored_files=added,
            pending=journal.paths,
            create=True,
        )
    assert result is not None
    outcome: Outcome = "created" if result.created else "updated" if result.updated else "unchanged"
    return PublishResult(recid, outcome, entries, len(added))
