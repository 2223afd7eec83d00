"""Fixity: re-reading stored files and comparing them with what the catalogue says they are.

A mismatch marks the replica ``corrupt`` (never served as good again until a later audit finds
good bytes); files in the store that a record references but no replica row describes yet are
verified against that record and registered; orphans are reported (and removed).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from openhep.catalog import Replica
from openhep.files._orphans import Orphan
from openhep.storage import Digester, UnsafePathError, read_chunks

if TYPE_CHECKING:
    from openhep.files._service import FileService


@dataclass(slots=True)
class FixityProblem:
    path: str
    problem: str  # missing | size | checksum | catalogue
    expected: str
    found: str
    recids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "problem": self.problem,
            "expected": self.expected,
            "found": self.found,
            "recids": self.recids,
        }


@dataclass(slots=True)
class FixityReport:
    checked: int = 0
    bytes_read: int = 0
    registered: int = 0
    restored: int = 0
    problems: list[FixityProblem] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.orphans

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "bytes_read": self.bytes_read,
            "registered": self.registered,
            "restored": self.restored,
            "corrupt": len(self.problems),
            "problems": [p.as_dict() for p in self.problems],
            "orphans": [o.as_dict() for o in self.orphans],
            "orphan_bytes": sum(o.size for o in self.orphans),
            "seconds": round(self.seconds, 3),
        }


def _now() -> datetime:
    return datetime.now(UTC)


def audit(
    service: FileService,
    *,
    sample: int | None,
    progress: Callable[[str], None] | None,
    seed: int | None,
    grace: float,
    keep_orphans: bool,
) -> FixityReport:
    """Re-read stored files and compare them with the catalogue; mark every mismatch.

    Files found in the store at a path some record's URI maps to, but never registered,
    are verified against that record and registered. ``sample`` checks that many replicas
    chosen at random instead of all. Orphans (:meth:`FileService.orphans`, after ``grace``
    seconds without a sign of their writer) are reported, and removed unless ``keep_orphans``.
    """
    started = _now()
    report = FixityReport()
    report.orphans = service.orphans(grace=grace, remove=not keep_orphans)
    registered = _register_unknown(service, report, progress)
    replicas = list(service.catalog.replicas)
    if sample is not None and sample < len(replicas):
        # Newly registered files are always verified; the sample is drawn from the others.
        new = [r for r in replicas if r.path in registered]
        rest = [r for r in replicas if r.path not in registered]
        chooser = random.Random(seed)  # noqa: S311 (a sample, not a secret)
        replicas = new + chooser.sample(rest, max(0, min(sample, len(rest))))
    expected_by_path = _catalogue_checksums(service, [r.path for r in replicas])
    for replica in replicas:
        if progress is not None:
            progress(replica.path)
        _check(service, replica, expected_by_path.get(replica.path, []), report)
    report.seconds = (_now() - started).total_seconds()
    return report


def _check(
    service: FileService,
    replica: Replica,
    expected: list[tuple[str, int, str]],
    report: FixityReport,
) -> None:
    report.checked += 1
    recids = sorted({recid for recid, _, _ in expected})
    problem = _measure(service, replica.path, replica.size, replica.checksum, report)
    if problem is None:
        for recid, size, checksum in expected:
            if (size, checksum) != (replica.size, replica.checksum):
                problem = FixityProblem(
                    replica.path,
                    "catalogue",
                    f"{size} bytes, {checksum} (record {recid})",
                    f"{replica.size} bytes, {replica.checksum}",
                )
                break
    now = _now()
    if problem is None:
        if not replica.is_good:
            report.restored += 1
        service.catalog.replicas.mark(replica.path, "available", checked_at=now)
        return
    problem.recids = recids
    report.problems.append(problem)
    detail = f"{problem.problem}: expected {problem.expected}, found {problem.found}"
    service.catalog.replicas.mark(replica.path, "corrupt", checked_at=now, detail=detail)


def _measure(
    service: FileService, path: str, size: int, checksum: str, report: FixityReport
) -> FixityProblem | None:
    digester = Digester(sha256=False)
    try:
        with service.store.open(path) as reader:
            for chunk in read_chunks(reader):
                digester.update(chunk)
    except FileNotFoundError:
        return FixityProblem(path, "missing", f"{size} bytes", "no file")
    except UnsafePathError:
        return FixityProblem(path, "missing", f"{size} bytes", "a link out of the store")
    except OSError as exc:
        return FixityProblem(path, "missing", f"{size} bytes", f"unreadable: {exc}")
    report.bytes_read += digester.size
    found = digester.digests()
    if found.size != size:
        return FixityProblem(path, "size", f"{size} bytes", f"{found.size} bytes")
    if found.adler32 != checksum:
        return FixityProblem(path, "checksum", checksum, found.adler32)
    return None


def _catalogue_checksums(
    service: FileService, paths: Sequence[str]
) -> dict[str, list[tuple[str, int, str]]]:
    """For each store path, the (recid, size, checksum) current records expect there."""
    wanted = set(paths)
    found: dict[str, list[tuple[str, int, str]]] = {}
    for recid, uri, size, checksum in service.catalog.all_files():
        path = service.path_of(uri)
        if path in wanted:
            found.setdefault(path, []).append((recid, size, checksum))
    return found


def _register_unknown(
    service: FileService, report: FixityReport, progress: Callable[[str], None] | None
) -> set[str]:
    """Register store files that records reference but no replica row describes yet."""
    known = {r.path for r in service.catalog.replicas}
    by_path: dict[str, tuple[str, int, str]] = {}
    for recid, uri, size, checksum in service.catalog.all_files():
        path = service.path_of(uri)
        if path is not None and path not in known:
            by_path.setdefault(path, (recid, size, checksum))
    registered: set[str] = set()
    if not by_path:
        return registered
    for stored in service.store.walk():
        target = by_path.get(stored.path)
        if target is None:
            continue
        if progress is not None:
            progress(stored.path)
        _, size, checksum = target
        now = _now()
        service.catalog.replicas.put(
            [Replica(stored.path, size, checksum, None, "available", now, None)]
        )
        report.registered += 1
        registered.add(stored.path)
    return registered
