"""Files behind records: adding them, finding what to serve, and auditing their fixity.

The catalogue says which bytes a record's file must have (``files[]``: uri, size, checksum);
the store holds bytes; a *replica* row ties a store path to the size and checksums measured
when the bytes were written (or last verified), and to their state: ``available`` or
``corrupt``. A record file whose URI maps (by the prefix rules) to a good replica is
``online``; one that maps nowhere or to nothing stored is ``remote``; one whose replica failed
its fixity check is ``corrupt`` and is never served as good. A download of a file that is not
``online`` is sent to its *origin* (the origin rules, ``OPENHEP_FILE_ORIGINS``) when it has one.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Literal

from openhep.catalog import Catalog, CatalogConflictError, Replica, StoredRecord, file_key
from openhep.model import Record, validate_record
from openhep.settings import Settings
from openhep.storage._checksum import Digester, Digests
from openhep.storage._journal import DEFAULT_GRACE_SECONDS, JournaledWrite
from openhep.storage._origins import OriginRules
from openhep.storage._orphans import Orphan, remove_abandoned, remove_unnamed
from openhep.storage._paths import (
    ADDED_FILES_PREFIX,
    PrefixRules,
    UnsafePathError,
    file_name,
    store_path,
)
from openhep.storage._store import Store, read_chunks

Availability = Literal["online", "remote", "corrupt"]

#: How often adding files retries when the record changed while its bytes streamed in.
_WRITE_ATTEMPTS = 5

#: CODP's file ``type`` by file-name extension, for files added without an explicit type.
_TYPES_BY_EXTENSION = {
    "root": "root",
    "ig": "ig",
    "json": "json",
    "txt": "txt",
    "csv": "csv",
    "zip": "zip",
    "gz": "gz",
    "tgz": "tgz",
    "pdf": "pdf",
    "ipynb": "ipynb",
    "py": "py",
    "h5": "h5",
    "parquet": "parquet",
}


class FileNotServedError(LookupError):
    """No good replica of that file here (unknown path, remote file or missing bytes)."""


class CorruptFileError(RuntimeError):
    """The file is held here but failed its fixity check: it must not be served as good."""

    def __init__(self, path: str, detail: str | None) -> None:
        self.path, self.detail = path, detail
        super().__init__(
            f"{path.rsplit('/', 1)[-1]} failed its fixity check"
            + (f" ({detail})" if detail else "")
            + ": its bytes do not match the catalogue, so it is not served"
        )


class ChecksumMismatchError(ValueError):
    """Uploaded bytes that do not match the checksum the uploader announced."""


class FileKeyError(ValueError):
    """A file key that cannot be used (unsafe, or clashing within one request)."""


class UnpublishedPathError(ValueError):
    """A store path no prefix rule publishes: files there would have no URI."""


def replicas_of(added: Sequence[AddedFile], now: datetime) -> list[Replica]:
    """The replica rows of files just stored (verified as they were written)."""
    return [
        Replica(a.path, a.digests.size, a.digests.adler32, a.digests.sha256, "available", now, now)
        for a in added
    ]


@dataclass(frozen=True, slots=True)
class ServedFile:
    """What the HTTP layer needs to serve a file: where it is and what its bytes must be."""

    path: str
    size: int
    checksum: str
    sha256: str | None
    last_modified: datetime

    @property
    def etag(self) -> str:
        return '"' + self.checksum.replace(":", "-") + '"'

    @property
    def adler32_hex(self) -> str:
        return self.checksum.removeprefix("adler32:")


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file a public record lists that is not held here as good bytes: its origin has it."""

    uri: str
    url: str  # http(s): where the same bytes are served


@dataclass(frozen=True, slots=True)
class AddedFile:
    """A file added to a record: its ``files[]`` entry and what was measured while storing it."""

    entry: dict[str, Any]
    path: str
    digests: Digests


@dataclass(frozen=True, slots=True)
class AddResult:
    recid: str
    version: int
    files: list[AddedFile]

    def as_dict(self) -> dict[str, Any]:
        return {
            "recid": self.recid,
            "version": self.version,
            "files": [{**f.entry, "sha256": f.digests.sha256, "path": f.path} for f in self.files],
        }


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


def file_type_for(key: str) -> str | None:
    extension = key.rsplit(".", 1)[-1].lower() if "." in key else ""
    return _TYPES_BY_EXTENSION.get(extension)


def _now() -> datetime:
    return datetime.now(UTC)


class FileService:
    """One instance's files: the catalogue, the store and the rules between URIs and paths."""

    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        rules: PrefixRules | None = None,
        *,
        max_upload_bytes: int | None = None,
        origins: OriginRules | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.rules = rules or PrefixRules()
        self.max_upload_bytes = max_upload_bytes
        self.origins = origins if origins is not None else OriginRules()

    @classmethod
    def open(cls, settings: Settings, catalog: Catalog) -> FileService:
        from openhep.storage._open import open_store

        return cls(
            catalog,
            open_store(settings),
            PrefixRules.parse(settings.storage_prefixes),
            max_upload_bytes=settings.max_upload_bytes,
            origins=OriginRules.parse(settings.file_origins),
        )

    def close(self) -> None:
        self.store.close()

    # -- where files are -------------------------------------------------------------------

    def path_of(self, uri: str) -> str | None:
        """The store path a record file's URI maps to (None: not a file this instance holds)."""
        return self.rules.to_store_path(uri)

    def availability(self, uris: Sequence[str]) -> list[Availability]:
        """For each URI: ``online`` (a good replica here), ``corrupt`` or ``remote``."""
        paths = [self.path_of(u) for u in uris]
        found = self.catalog.replicas.get_many([p for p in paths if p is not None])
        out: list[Availability] = []
        for path in paths:
            replica = found.get(path) if path is not None else None
            if replica is None:
                out.append("remote")
            else:
                out.append("online" if replica.is_good else "corrupt")
        return out

    def origin_urls(self, uris: Sequence[str]) -> list[str | None]:
        """For each URI: the http(s) address its origin serves it at, or None (no origin)."""
        return [self.origins.url_of(uri) for uri in uris]

    def public_file(self, path: str) -> ServedFile | RemoteFile:
        """What ``/eos/opendata/<path>`` answers, for a file some public record lists (none
        that is embargoed): the file, if held here and good, else where its origin has it.

        :class:`FileNotServedError` if no public record lists it, or it is neither held here
        nor has an origin; :class:`CorruptFileError` if it failed its fixity check here and
        has no origin.
        """
        path = store_path(path)
        uri = self.rules.to_uri(path)
        if uri is None or not self.catalog.uri_is_public(uri):
            raise FileNotServedError(f"there is no file {path.rsplit('/', 1)[-1]!r} here")
        return self._here_or_at_origin(path, uri)

    def _here_or_at_origin(self, path: str | None, uri: str) -> ServedFile | RemoteFile:
        problem: Exception = FileNotServedError(
            f"{uri.rsplit('/', 1)[-1]!r} is not held here; it is at {uri}"
        )
        if path is not None:
            try:
                return self.servable(path)
            except FileNotServedError:
                pass
            except CorruptFileError as exc:
                # Bad bytes here are never served; the origin's are the file's (clients check
                # them against the record's checksum), so a corrupt replica is no dead end.
                problem = exc
        url = self.origins.url_of(uri)
        if url is None:
            raise problem
        return RemoteFile(uri, url)

    def servable(self, path: str) -> ServedFile:
        """The file at store path ``path`` if it is held here and good.

        :class:`FileNotServedError` if there is no replica (or its bytes are gone),
        :class:`CorruptFileError` if it failed its fixity check.
        """
        path = store_path(path)
        replica = self.catalog.replicas.get(path)
        if replica is None:
            raise FileNotServedError(f"there is no file {path.rsplit('/', 1)[-1]!r} here")
        if not replica.is_good:
            raise CorruptFileError(path, replica.detail)
        stat = self.store.stat(path)
        if stat is None:
            raise FileNotServedError(f"the bytes of {path.rsplit('/', 1)[-1]!r} are missing")
        if stat.size != replica.size:
            # Changed under us since its last check: never serve it as good.
            raise CorruptFileError(path, f"size {stat.size}, expected {replica.size}")
        return ServedFile(path, replica.size, replica.checksum, replica.sha256, stat.mtime)

    def record_file(self, stored: StoredRecord, key: str) -> ServedFile | RemoteFile:
        """The file ``key`` of a (public) record: the file, if this instance holds it and it
        is good, else where its origin has it (errors as :meth:`public_file`)."""
        for entry in stored.metadata.get("files", []):
            if file_key(entry) == key:
                uri = str(entry["uri"])
                return self._here_or_at_origin(self.path_of(uri), uri)
        raise FileNotServedError(f"record {stored.recid} has no file {key!r}")

    def report_corrupt(self, path: str, detail: str) -> None:
        """Mark the replica at ``path`` corrupt: its bytes were found not to match (while being
        served, say). It is not served again until ``openhep fixity`` finds good bytes."""
        self.catalog.replicas.mark(path, "corrupt", checked_at=_now(), detail=detail)

    def reader(self, served: ServedFile) -> BinaryIO:
        """A seekable reader of a file :meth:`servable` vouched for."""
        return self.store.open(served.path)

    # -- adding files ----------------------------------------------------------------------

    def add(
        self,
        recid: str,
        items: Sequence[tuple[str, Iterable[bytes]]],
        *,
        file_type: str | None = None,
        expected: dict[str, str] | None = None,
    ) -> AddResult:
        """Store ``items`` (key, chunks) and add them to record ``recid`` as one new version.

        Each file lands at a path of its own (``eos/opendata/openhep/<recid>/<id>/<key>``), so
        bytes a record already references are never overwritten; a file with the key of an
        existing one replaces that entry. ``expected`` (key -> ``adler32:…``/``sha256:…``) is
        checked before the record changes. Any failure removes what was stored and leaves the
        record as it was.
        """
        keys = [file_name(key) for key, _ in items]
        if len(set(keys)) != len(keys):
            raise FileKeyError("each file added in one go needs its own key")
        # An unknown record is refused before any byte is stored (RecordNotFoundError).
        self.catalog.get(recid, include_embargoed=True)
        upload_id = uuid.uuid4().hex[:12]
        paths = [f"{ADDED_FILES_PREFIX}/{recid}/{upload_id}/{key}" for key in keys]
        added: list[AddedFile] = []
        with self.journal(paths) as journal:
            for (key, chunks), path in zip(items, paths, strict=True):
                added.append(
                    self.store_file(path, chunks, key=key, file_type=file_type, journal=journal)
                )
                digests = added[-1].digests
                want = (expected or {}).get(key)
                if want is not None and want not in (digests.adler32, digests.sha256):
                    raise ChecksumMismatchError(
                        f"{key}: the bytes received have {digests.adler32} and {digests.sha256},"
                        f" not {want}: nothing was changed"
                    )
            version = self.attach(recid, [a.entry for a in added], added, pending=journal.paths)
        return AddResult(recid, version, added)

    def journal(self, paths: Sequence[str]) -> JournaledWrite:
        """The journal of an add that may write ``paths`` (see ``_journal``): ``with`` it,
        store through :meth:`store_file` with ``journal=``, and name the files with
        ``pending=journal.paths``; a crash anywhere leaves nothing that is not found again."""
        return JournaledWrite(self.catalog, self.store, paths)

    def attach(
        self,
        recid: str,
        entries: Sequence[dict[str, Any]],
        stored_files: Sequence[AddedFile],
        *,
        file_index_entries: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        pending: Sequence[str] = (),
    ) -> int:
        """Add ``entries`` to record ``recid``'s ``files[]`` (replacing entries of the same
        keys) with the replicas of ``stored_files`` and any ``file_index_entries`` (index key
        -> rows), in one transaction that also completes the ``pending`` writes (journal
        rows, see :meth:`journal`); return the record's version after it.

        The files were stored at paths of their own while the record may have changed: each
        attempt reads the current version and writes on condition that it is still current.
        """
        for attempt in range(_WRITE_ATTEMPTS):
            stored = self.catalog.get(recid, include_embargoed=True)
            record = self._with_files(stored, entries)
            now = _now()
            try:
                result = self.catalog.write(
                    [record],
                    replicas=replicas_of(stored_files, now),
                    expect_versions={recid: stored.version},
                    file_index_entries={recid: file_index_entries} if file_index_entries else None,
                    now=now,
                    pending=pending,
                )
            except CatalogConflictError:
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
                continue
            return stored.version + (0 if recid in result.unchanged else 1)
        raise AssertionError("unreachable")

    def store_file(
        self,
        path: str,
        chunks: Iterable[bytes],
        *,
        key: str | None = None,
        file_type: str | None = None,
        infer_type: bool = True,
        description: str | None = None,
        journal: JournaledWrite | None = None,
    ) -> AddedFile:
        """Write ``chunks`` at store path ``path`` and describe it as a ``files[]`` entry.

        The entry's URI is the one the prefix rules publish ``path`` under; its ``type`` is
        ``file_type``, else (with ``infer_type``) the one its extension suggests. With a
        ``journal`` (:meth:`journal`, which must list ``path``), the write is tracked by it.
        """
        uri = self.rules.to_uri(path)
        if uri is None:
            raise UnpublishedPathError(
                f"no OPENHEP_STORAGE_PREFIXES rule publishes {path.rsplit('/', 1)[0]}/: add one"
                " such as root://eospublic.cern.ch//eos/opendata/=eos/opendata/"
            )
        if journal is not None:
            chunks = journal.track(path, chunks)
        stat, digests = self.store.write(path, chunks, max_bytes=self.max_upload_bytes)
        if journal is not None:
            journal.landed(path)
        name = key or path.rsplit("/", 1)[-1]
        entry: dict[str, Any] = {
            "checksum": digests.adler32,
            "key": name,
            "size": stat.size,
            "uri": uri,
        }
        kind = file_type or (file_type_for(name) if infer_type else None)
        if kind:
            entry["type"] = kind
        if description:
            entry["description"] = description
        return AddedFile(entry, path, digests)

    @staticmethod
    def _with_files(stored: StoredRecord, entries: Sequence[dict[str, Any]]) -> Record:
        data = dict(stored.metadata)
        new_keys = {e["key"] for e in entries}
        kept = [f for f in data.get("files", []) if file_key(f) not in new_keys]
        data["files"] = [*kept, *entries]
        return validate_record(data)

    # -- orphans ---------------------------------------------------------------------------

    def remove_abandoned(self, *, grace: float = DEFAULT_GRACE_SECONDS) -> list[Orphan]:
        """Remove what adds that never completed left in the store (see ``_orphans``): cheap,
        it reads the journal only. Run at the start of ``openhep serve`` and ``files``."""
        return remove_abandoned(self.catalog, self.store, self.rules, grace=grace)

    def orphans(self, *, grace: float = DEFAULT_GRACE_SECONDS, remove: bool = True) -> list[Orphan]:
        """Every orphan: abandoned writes, then files under the prefix this instance writes to
        and partial writes that nothing names (it lists the store); removed unless ``remove``
        is False."""
        found = remove_abandoned(self.catalog, self.store, self.rules, grace=grace, remove=remove)
        return found + remove_unnamed(self.catalog, self.store, self.rules, remove=remove)

    # -- fixity ----------------------------------------------------------------------------

    def fixity(
        self,
        *,
        sample: int | None = None,
        progress: Callable[[str], None] | None = None,
        seed: int | None = None,
        grace: float = DEFAULT_GRACE_SECONDS,
        keep_orphans: bool = False,
    ) -> FixityReport:
        """Re-read stored files and compare them with the catalogue; mark every mismatch.

        Files found in the store at a path some record's URI maps to, but never registered,
        are verified against that record and registered. ``sample`` checks that many replicas
        chosen at random instead of all. Orphans (:meth:`orphans`, after ``grace`` seconds
        without a sign of their writer) are reported, and removed unless ``keep_orphans``.
        """
        started = _now()
        report = FixityReport()
        report.orphans = self.orphans(grace=grace, remove=not keep_orphans)
        registered = self._register_unknown(report, progress)
        replicas = list(self.catalog.replicas)
        if sample is not None and sample < len(replicas):
            # Newly registered files are always verified; the sample is drawn from the others.
            new = [r for r in replicas if r.path in registered]
            rest = [r for r in replicas if r.path not in registered]
            chooser = random.Random(seed)  # noqa: S311 (a sample, not a secret)
            replicas = new + chooser.sample(rest, max(0, min(sample, len(rest))))
        expected_by_path = self._catalogue_checksums([r.path for r in replicas])
        for replica in replicas:
            if progress is not None:
                progress(replica.path)
            self._check(replica, expected_by_path.get(replica.path, []), report)
        report.seconds = (_now() - started).total_seconds()
        return report

    def _check(
        self, replica: Replica, expected: list[tuple[str, int, str]], report: FixityReport
    ) -> None:
        report.checked += 1
        recids = sorted({recid for recid, _, _ in expected})
        problem = self._measure(replica.path, replica.size, replica.checksum, report)
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
            self.catalog.replicas.mark(replica.path, "available", checked_at=now)
            return
        problem.recids = recids
        report.problems.append(problem)
        detail = f"{problem.problem}: expected {problem.expected}, found {problem.found}"
        self.catalog.replicas.mark(replica.path, "corrupt", checked_at=now, detail=detail)

    def _measure(
        self, path: str, size: int, checksum: str, report: FixityReport
    ) -> FixityProblem | None:
        digester = Digester(sha256=False)
        try:
            with self.store.open(path) as reader:
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

    def _catalogue_checksums(self, paths: Sequence[str]) -> dict[str, list[tuple[str, int, str]]]:
        """For each store path, the (recid, size, checksum) current records expect there."""
        wanted = set(paths)
        found: dict[str, list[tuple[str, int, str]]] = {}
        for recid, uri, size, checksum in self._catalogue_files():
            path = self.path_of(uri)
            if path in wanted:
                found.setdefault(path, []).append((recid, size, checksum))
        return found

    def _catalogue_files(self) -> Iterator[tuple[str, str, int, str]]:
        from sqlalchemy import select

        from openhep.catalog._schema import files

        with self.catalog.engine.connect() as conn:
            query = select(files.c.recid, files.c.uri, files.c.size, files.c.checksum)
            for row in conn.execution_options(yield_per=5000).execute(query):
                yield row.recid, row.uri, int(row.size), row.checksum

    def _register_unknown(
        self, report: FixityReport, progress: Callable[[str], None] | None
    ) -> set[str]:
        """Register store files that records reference but no replica row describes yet."""
        known = {r.path for r in self.catalog.replicas}
        by_path: dict[str, tuple[str, int, str]] = {}
        for recid, uri, size, checksum in self._catalogue_files():
            path = self.path_of(uri)
            if path is not None and path not in known:
                by_path.setdefault(path, (recid, size, checksum))
        registered: set[str] = set()
        if not by_path:
            return registered
        for stored in self.store.walk():
            target = by_path.get(stored.path)
            if target is None:
                continue
            if progress is not None:
                progress(stored.path)
            _, size, checksum = target
            now = _now()
            self.catalog.replicas.put(
                [Replica(stored.path, size, checksum, None, "available", now, None)]
            )
            report.registered += 1
            registered.add(stored.path)
        return registered
