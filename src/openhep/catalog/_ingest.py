"""Ingest: CODP record JSON files → validated records → the catalogue, a batch at a time."""

from __future__ import annotations

import gc
import gzip
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from openhep.catalog._catalog import Catalog, WriteResult
from openhep.model import (
    Record,
    RecordValidationError,
    RepairKind,
    upgrade_record,
    validate_upgraded,
)

#: A record file larger than this is refused before it is read (the largest CODP file is 2.5 MB).
MAX_SOURCE_BYTES = 512 * 1024 * 1024
#: What a record file in a directory is called: CODP's ``*.json``, or gzipped ``*.json.gz``.
RECORD_FILE_SUFFIXES = (".json", ".json.gz")


class IngestSourceError(ValueError):
    """A path given to ingest that is missing, unreadable or holds no record files."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """One reason one record (or a whole file) was not ingested."""

    file: str
    recid: str | None
    index: int | None
    path: str
    reason: str

    def __str__(self) -> str:
        where = self.file + (f"[{self.index}]" if self.index is not None else "")
        who = f" record {self.recid}" if self.recid else ""
        field_path = f" {self.path}:" if self.path else ""
        return f"{where}:{who}{field_path} {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "recid": self.recid,
            "index": self.index,
            "path": self.path,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Repaired:
    """One repair made to one record as it was read (see ``openhep.model.upgrade_record``)."""

    file: str
    recid: str | None
    index: int
    path: str
    repair: RepairKind

    def __str__(self) -> str:
        who = f" record {self.recid}" if self.recid else ""
        return f"{self.file}[{self.index}]:{who} {self.path}: {self.repair.description}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "recid": self.recid,
            "index": self.index,
            "path": self.path,
            "repair": str(self.repair),
        }


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """Where an ingest stands: records ``sent`` to the catalogue so far, how many of them are
    ``committed`` (their transaction ended; a crash now keeps them), of ``total`` to write."""

    sent: int
    committed: int
    total: int

    @property
    def in_transaction(self) -> bool:
        """Records sent but not yet committed: a crash now loses them (and only them)."""
        return self.sent > self.committed


@dataclass(slots=True)
class IngestReport:
    """What an ingest run read, repaired, wrote and rejected."""

    files: int = 0
    records: int = 0
    written: WriteResult = field(default_factory=WriteResult)
    rejections: list[Rejection] = field(default_factory=list)
    repairs: list[Repaired] = field(default_factory=list)
    seconds: float = 0.0
    committed: bool = False

    @property
    def rejected_recids(self) -> int:
        return len({(r.file, r.index) for r in self.rejections})

    @property
    def repaired_records(self) -> int:
        return len({(r.file, r.index) for r in self.repairs})

    def repair_counts(self) -> dict[str, int]:
        """Repairs per kind, every kind named (0 for none), in a fixed order."""
        counts = Counter(r.repair for r in self.repairs)
        return {str(kind): counts[kind] for kind in RepairKind}

    def summary(self) -> dict[str, Any]:
        total = len(self.written.created) + len(self.written.updated) + len(self.written.unchanged)
        return {
            "files": self.files,
            "records": self.records,
            "created": len(self.written.created),
            "updated": len(self.written.updated),
            "unchanged": len(self.written.unchanged),
            "rejected": self.rejected_recids,
            "repaired": self.repaired_records,
            "committed": self.committed,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(total / self.seconds, 1) if self.seconds and total else 0.0,
            "rejections": [r.as_dict() for r in self.rejections],
            "repair_counts": self.repair_counts(),
            "repairs": [r.as_dict() for r in self.repairs],
        }


@dataclass(frozen=True, slots=True)
class _Candidate:
    record: Record
    file: str
    index: int


def collect_paths(paths: Iterable[Path], *, recursive: bool = False) -> list[Path]:
    """The record files named by ``paths``: files as given, directories' ``*.json`` and
    ``*.json.gz`` files.

    Hidden and underscore-prefixed entries of a directory are not records (CODP keeps
    skeletons and notes there) and are passed over; ``recursive`` descends into sub-directories.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            pattern = "**/*.json*" if recursive else "*.json*"
            found += sorted(
                p
                for p in path.glob(pattern)
                if p.is_file()
                and p.name.endswith(RECORD_FILE_SUFFIXES)
                and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise IngestSourceError(f"{path}: no such file or directory")
    if not found:
        raise IngestSourceError(
            "no record files found in "
            + ", ".join(str(p) for p in paths)
            + " (expected *.json or *.json.gz)"
        )
    return found


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped for ``.gz``; either way at most ``MAX_SOURCE_BYTES``."""
    too_large = IngestSourceError(
        f"file holds more than the {MAX_SOURCE_BYTES:,} bytes ingest reads; "
        "split it into several files"
    )
    if path.stat().st_size > MAX_SOURCE_BYTES:
        raise too_large
    if not path.name.endswith(".gz"):
        return path.read_bytes()
    # Read one byte past the bound so that a small file that inflates hugely stops there.
    try:
        with gzip.open(path, "rb") as packed:
            data = packed.read(MAX_SOURCE_BYTES + 1)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise IngestSourceError(f"not a readable gzip file ({exc})") from None
    if len(data) > MAX_SOURCE_BYTES:
        raise too_large
    return data


def read_source(path: Path) -> list[Any]:
    """The records of one file: a JSON list of records, or a single record object."""
    try:
        data = orjson.loads(_read_bytes(path))
    except orjson.JSONDecodeError as exc:
        raise IngestSourceError(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except OSError as exc:
        raise IngestSourceError(f"cannot read: {exc.strerror}") from None
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return data
    raise IngestSourceError(
        f"expected a JSON list of records or one record object, got {type(data).__name__}"
    )


@dataclass(slots=True)
class Prepared:
    """The records of a batch that validated, those refused, and the repairs made on reading."""

    candidates: list[_Candidate]
    rejections: list[Rejection]
    repairs: list[Repaired]


def prepare(files: Sequence[Path]) -> Prepared:
    """Read, upgrade and validate every record of ``files`` without touching the catalogue.

    Repairs are listed for every record read, valid or not: a kept unknown field is often the
    misspelling that explains why a required one is missing.
    """
    candidates: list[_Candidate] = []
    rejections: list[Rejection] = []
    repairs: list[Repaired] = []
    for path in files:
        name = str(path)
        try:
            items = read_source(path)
        except IngestSourceError as exc:
            rejections.append(Rejection(name, None, None, "", str(exc)))
            continue
        for index, item in enumerate(items):
            upgraded = upgrade_record(item)
            if upgraded.repairs:
                recid = item.get("recid")
                who = str(recid) if recid is not None else None
                repairs += [Repaired(name, who, index, r.path, r.kind) for r in upgraded.repairs]
            try:
                candidates.append(_Candidate(validate_upgraded(upgraded), name, index))
            except RecordValidationError as exc:
                rejections += [
                    Rejection(name, exc.recid, index, err.path, err.message) for err in exc.errors
                ]
    kept, rejections = _reject_duplicates(candidates, rejections)
    return Prepared(kept, rejections, repairs)


def _reject_duplicates(
    candidates: list[_Candidate], rejections: list[Rejection]
) -> tuple[list[_Candidate], list[Rejection]]:
    # Two records claiming one recid (or one DOI) in a batch: neither can be trusted to be the
    # one the curator meant, so both are rejected and named.
    clashes: set[int] = set()
    for key in ("recid", "doi"):
        seen: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(candidates):
            value = getattr(c.record, key)
            if value:
                seen[value].append(i)
        for value, where in seen.items():
            if len(where) < 2:
                continue
            places = ", ".join(f"{candidates[i].file}[{candidates[i].index}]" for i in where)
            for i in where:
                c = candidates[i]
                rejections.append(
                    Rejection(
                        c.file,
                        c.record.recid,
                        c.index,
                        key,
                        f"{key} {value} appears {len(where)} times in this batch ({places})",
                    )
                )
                clashes.add(i)
    kept = [c for i, c in enumerate(candidates) if i not in clashes]
    return kept, rejections


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    # A bulk load allocates millions of short-lived, acyclic objects; the cyclic collector
    # rescanning them costs a third of ingest time and frees nothing (measured: 5.4k → 8.5k
    # records/s on the CODP records).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def ingest(
    paths: Sequence[Path],
    open_catalog: Callable[[], Catalog],
    *,
    skip_invalid: bool = False,
    replace: bool = False,
    batch_size: int | None = None,
    recursive: bool = False,
    progress: Callable[[IngestProgress], None] | None = None,
) -> IngestReport:
    """Ingest record files into the catalogue.

    Every record is upgraded and validated before the catalogue is opened: with any rejection
    and no ``skip_invalid`` nothing is written at all. A record whose recid the catalogue holds
    with other experiments is refused unless ``replace`` (then it becomes that record's next
    version). Records are then written in transactions of ``batch_size`` (default: all of them
    in one), each landing whole or not at all. ``progress`` hears of each chunk of records
    sent inside a transaction, and of each transaction once it has committed.
    """
    with _cyclic_gc_paused():
        return _ingest(paths, open_catalog, skip_invalid, replace, batch_size, recursive, progress)


def _ingest(
    paths: Sequence[Path],
    open_catalog: Callable[[], Catalog],
    skip_invalid: bool,
    replace: bool,
    batch_size: int | None,
    recursive: bool,
    progress: Callable[[IngestProgress], None] | None,
) -> IngestReport:
    started = time.perf_counter()
    files = collect_paths(paths, recursive=recursive)
    prepared = prepare(files)
    candidates = prepared.candidates
    report = IngestReport(
        files=len(files),
        records=len(candidates) + _count(prepared.rejections),
        rejections=prepared.rejections,
        repairs=prepared.repairs,
    )
    if report.rejections and not skip_invalid:
        report.seconds = time.perf_counter() - started
        return report
    with open_catalog() as catalog:
        conflicts = _catalogue_conflicts(catalog, candidates, replace)
        report.rejections += conflicts.values()
        if conflicts and not skip_invalid:
            report.seconds = time.perf_counter() - started
            return report
        batch = [c.record for i, c in enumerate(candidates) if i not in conflicts]
        sent = committed = 0
        size = batch_size or max(len(batch), 1)

        def tick(n: int) -> None:
            # Inside the transaction: sent, not yet stored for good.
            nonlocal sent
            sent += n
            if progress is not None:
                progress(IngestProgress(sent, committed, len(batch)))

        for start in range(0, len(batch), size):
            chunk = batch[start : start + size]
            written = catalog.write(chunk, progress=tick, keep_experiments=not replace)
            # write() returns once its transaction has committed: only now are they written.
            committed = sent = start + len(chunk)
            report.written.merge(written)
            report.committed = True
            if progress is not None:
                progress(IngestProgress(sent, committed, len(batch)))
    report.seconds = time.perf_counter() - started
    return report


def _catalogue_conflicts(
    catalog: Catalog, candidates: list[_Candidate], replace: bool
) -> dict[int, Rejection]:
    """The candidates the catalogue refuses, by position: a DOI another record holds, and
    (unless ``replace``) a recid it holds with other experiments."""
    records = [c.record for c in candidates]
    owners = catalog.doi_owners(records)
    held = {} if replace else catalog.experiments([r.recid for r in records])
    found: dict[int, Rejection] = {}
    for i, c in enumerate(candidates):
        record = c.record
        owner = owners.get(record.doi or "", record.recid)
        if owner != record.recid:
            reason = f"doi {record.doi} already belongs to record {owner}"
            found[i] = Rejection(c.file, record.recid, c.index, "doi", reason)
            continue
        stored = held.get(record.recid)
        if stored is not None and set(stored) != set(record.experiment):
            # A draft that reuses a recid must not silently become the next version of another
            # experiment's record.
            reason = (
                f"record {record.recid} exists with experiment {', '.join(stored)}, "
                f"this record has {', '.join(record.experiment)}: pick another recid, "
                "or pass --replace to make this the record's next version"
            )
            found[i] = Rejection(c.file, record.recid, c.index, "experiment", reason)
    return found


def _count(rejections: list[Rejection]) -> int:
    # Records rejected (not problems): a record with three bad fields is one record.
    return len({(r.file, r.index) for r in rejections if r.index is not None})
