"""Files behind records: adding them, finding what to serve, and auditing their fixity
(``_fixity``).

The catalogue says which bytes a record's file must have (``files[]``: uri, size, checksum);
the store holds bytes; a *replica* row ties a store path to the size and checksums measured
when the bytes were written (or last verified), and to their state: ``available`` or
``corrupt``. A record file whose URI maps (by the prefix rules) to a good replica is
``online``; one that maps nowhere or to nothing stored is ``remote``; one whose replica failed
its fixity check is ``corrupt`` and is never served as good. A download of a file that is not
``online`` is sent to its *origin* (the origin rules, ``OPENHEP_FILE_ORIGINS``) when it has one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, Literal

from openhep.catalog import Catalog, StoredRecord
from openhep.files._attach import AddedFile, IndexEntries, Revision, attach
from openhep.files._fixity import FixityReport, audit
from openhep.files._journal import DEFAULT_GRACE_SECONDS, JournaledWrite
from openhep.files._orphans import Orphan, remove_abandoned, remove_unnamed
from openhep.model import Record, file_key, validate_record
from openhep.settings import Settings
from openhep.storage import (
    ADDED_FILES_PREFIX,
    OriginRules,
    PrefixRules,
    Store,
    file_name,
    open_store,
    store_path,
)

Availability = Literal["online", "remote", "corrupt"]

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


def file_type_for(key: str) -> str | None:
    extension = key.rsplit(".", 1)[-1].lower() if "." in key else ""
    return _TYPES_BY_EXTENSION.get(extension)


def _now() -> datetime:
    return datetime.now(UTC)


def upload_prefix(recid: str) -> str:
    """Where one add stores its files: ``eos/opendata/openhep/<recid>/<id>``, a folder of its
    own, so bytes a record already names are never overwritten."""
    return f"{ADDED_FILES_PREFIX}/{recid}/{uuid.uuid4().hex[:12]}"


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

    def location(self, served: ServedFile) -> str:
        """Where a reader in another process (an analysis worker, a Dask worker) finds the
        bytes of a file :meth:`servable` vouched for: its path on this machine (local store),
        else its URL in the store (``root://host//…`` of the XRootD store)."""
        local = self.store.local_path(served.path)
        if local is not None:
            return str(local)
        base = self.store.url if self.store.url.endswith("/") else self.store.url + "/"
        return base + served.path

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
        prefix = upload_prefix(recid)
        paths = [f"{prefix}/{key}" for key in keys]
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
        file_index_entries: IndexEntries | None = None,
        pending: Sequence[str] = (),
    ) -> int:
        """Add ``entries`` to record ``recid``'s ``files[]`` (replacing entries of the same
        keys) with the replicas of ``stored_files`` and any ``file_index_entries`` (index key
        -> rows), in one transaction that also completes the ``pending`` writes (journal
        rows, see :meth:`journal`); return the record's version after it.

        The files were stored at paths of their own while the record may have changed: each
        attempt reads the current version and writes on condition that it is still current.
        """
        stored, result = attach(
            self.catalog,
            recid,
            lambda current: Revision(self._with_files(current, entries), file_index_entries),
            stored_files=stored_files,
            pending=pending,
        )
        assert stored is not None and result is not None
        return stored.version + (0 if recid in result.unchanged else 1)

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
    def _with_files(stored: StoredRecord | None, entries: Sequence[dict[str, Any]]) -> Record:
        assert stored is not None  # attach reads an existing record (RecordNotFoundError)
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
        """Re-read stored files and compare them with the catalogue; mark every mismatch
        (see :func:`openhep.files._fixity.audit`)."""
        return audit(
            self,
            sample=sample,
            progress=progress,
            seed=seed,
            grace=grace,
            keep_orphans=keep_orphans,
        )
