"""The catalogue: the only source of truth for records, their versions, files and changes."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, text, update

from openhep.catalog._documents import Documents
from openhep.catalog._engine import WRITE, make_engine, upgrade
from openhep.catalog._pending import PendingWrites, complete_pending
from openhep.catalog._replicas import Replica, Replicas, put_replicas
from openhep.catalog._schema import (
    changelog,
    file_index_entries,
    files,
    former_files,
    record_versions,
    records,
)
from openhep.catalog._tokens import Tokens
from openhep.model import Record, file_key
from openhep.settings import Settings

# Rows per statement: below SQLite's 32,766 bound parameters, large enough to amortise round trips.
_CHUNK = 500
# A PostgreSQL advisory lock serialising writers, so change-log numbers follow commit order.
_WRITE_LOCK = 0x0E11_4E9


class RecordNotFoundError(LookupError):
    """No public record (or version) with that recid."""

    def __init__(self, recid: str, version: int | None = None) -> None:
        self.recid, self.version = recid, version
        what = f"record {recid}" + (f" version {version}" if version is not None else "")
        super().__init__(f"{what} does not exist (or is not public yet)")


class CatalogConflictError(ValueError):
    """A batch that would break a catalogue invariant (such as two records sharing a DOI)."""


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One version of a record as the catalogue holds it."""

    recid: str
    version: int
    metadata: dict[str, Any]
    created: datetime
    updated: datetime
    visible_from: datetime

    def is_public(self, now: datetime) -> bool:
        return self.visible_from <= now


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    created: datetime
    content_hash: str


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change log."""

    seq: int
    recid: str
    version: int
    operation: str
    at: datetime


@dataclass(slots=True)
class WriteResult:
    """What a batch did: recids created, updated (new version) and left unchanged."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def merge(self, other: WriteResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass(frozen=True, slots=True)
class CatalogStats:
    """Counts of public records (a record with two experiments counts once under each)."""

    total: int
    embargoed: int
    experiment: dict[str, int]
    type: dict[str, int]
    subtype: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "embargoed": self.embargoed,
            "experiment": self.experiment,
            "type": self.type,
            "subtype": self.subtype,
        }


def content_hash(metadata: dict[str, Any]) -> str:
    """A digest of a record's content, independent of key order, to detect unchanged re-ingests."""
    return hashlib.sha256(orjson.dumps(metadata, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _doi_owners(conn: Connection, dois: Sequence[str]) -> dict[str, str]:
    owners: dict[str, str] = {}
    for chunk in _chunks(dois):
        query = select(records.c.doi, records.c.recid).where(records.c.doi.in_(chunk))
        owners.update({row.doi: row.recid for row in conn.execute(query)})
    return owners


def _now() -> datetime:
    return datetime.now(UTC)


def _retire_files(
    conn: Connection, recid: str, dropped: Mapping[str, tuple[int, str]], version: int
) -> None:
    """Keep the files (uri -> size, checksum) that version ``version`` of ``recid`` named and
    the next one does not as *former files*: an older version still names them, so they stay
    served (:meth:`Catalog.uri_is_public`) and are never taken for orphans."""
    if not dropped:
        return
    uris = list(dropped)
    held: set[str] = set()
    for chunk in _chunks(uris):
        held.update(
            conn.execute(
                select(former_files.c.uri).where(
                    former_files.c.recid == recid, former_files.c.uri.in_(chunk)
                )
            ).scalars()
        )
    if held:
        for chunk in _chunks(list(held)):
            conn.execute(
                update(former_files)
                .where(former_files.c.recid == recid, former_files.c.uri.in_(chunk))
                .values(version=version)
            )
    rows = [
        {"recid": recid, "uri": uri, "size": size, "checksum": checksum, "version": version}
        for uri, (size, checksum) in dropped.items()
        if uri not in held
    ]
    for chunk in _chunks(rows):
        conn.execute(insert(former_files), list(chunk))


def _current_version(conn: Connection, recid: str) -> int:
    return int(conn.execute(select(records.c.version).where(records.c.recid == recid)).scalar_one())


def _put_file_index_entries(
    conn: Connection,
    entries: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
    updated: Sequence[str] = (),
) -> None:
    """Replace the contents of the file indices named, inside the caller's transaction; what
    a replaced index listed and the new one does not becomes the record's former files (the
    version before names it)."""
    rows: list[dict[str, Any]] = []
    for recid, indices in entries.items():
        for index_key, listed in indices.items():
            kept = {str(entry["uri"]) for entry in listed}
            old = conn.execute(
                select(
                    file_index_entries.c.uri,
                    file_index_entries.c.size,
                    file_index_entries.c.checksum,
                ).where(
                    (file_index_entries.c.recid == recid)
                    & (file_index_entries.c.index_key == index_key)
                )
            ).all()
            dropped = {r.uri: (int(r.size), r.checksum) for r in old if r.uri not in kept}
            if dropped:
                # The last version that listed them: the one before, if this write made one.
                version = _current_version(conn, recid) - (1 if recid in updated else 0)
                _retire_files(conn, recid, dropped, max(1, version))
            conn.execute(
                delete(file_index_entries).where(
                    (file_index_entries.c.recid == recid)
                    & (file_index_entries.c.index_key == index_key)
                )
            )
            rows += [
                {
                    "recid": recid,
                    "index_key": index_key,
                    "position": position,
                    "uri": str(entry["uri"]),
                    "size": int(entry["size"]),
                    "checksum": str(entry["checksum"]),
                }
                for position, entry in enumerate(listed)
            ]
    for chunk in _chunks(rows):
        conn.execute(insert(file_index_entries), list(chunk))


@dataclass(frozen=True, slots=True)
class CatalogState:
    """What answers about public records depend on, besides the time (see ``Catalog.state``)."""

    changes: int  # the newest change-log number
    replicas: int  # the replicas' generation: bumped when one is added, removed or changes state
    documents: int = 0  # the documents' generation: bumped when one is created or changed


class Catalog:
    """Records with every version kept, their files, file indices and the change log.

    Public reads (``get``, ``stats``) hide embargoed records until their ``visible_from``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        # ``last_change`` runs before every search: it keeps its own autocommit connection.
        self._probe: Any = None
        self._probe_lock = threading.Lock()
        self.replicas = Replicas(engine, self.transaction)
        self.pending = PendingWrites(engine, self.transaction)
        self.tokens = Tokens(engine, self.transaction)
        self.documents = Documents(engine, self.transaction)

    @classmethod
    def open(cls, settings: Settings | None = None, *, url: str | None = None) -> Catalog:
        """Open (creating or migrating if needed) the catalogue the settings name."""
        settings = settings or Settings.from_env()
        engine = make_engine(url or settings.catalog_url)
        upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        with self._probe_lock:
            if self._probe is not None:
                self._probe.close()
                self._probe = None
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction, serialised with every other writer; commits unless it raises."""
        writer = self.engine.connect().execution_options(**{WRITE: True})
        with writer as conn, conn.begin():
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK})
            yield conn

    def write(
        self,
        batch: Sequence[Record],
        *,
        progress: Callable[[int], None] | None = None,
        now: datetime | None = None,
        replicas: Sequence[Replica] = (),
        expect_versions: dict[str, int] | None = None,
        file_index_entries: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]] | None = None,
        keep_experiments: bool = False,
        pending: Sequence[str] = (),
    ) -> WriteResult:
        """Store a batch in one transaction: all of it lands, or none of it.

        A record whose content equals its current version is left as it is; a changed one
        becomes version n+1. ``progress`` is told how many records each written chunk held.
        ``replicas`` (files stored for these records) are registered in the same transaction.
        ``expect_versions`` makes the write conditional: if a record's current version is not
        the one given (someone wrote it meanwhile), :class:`CatalogConflictError` is raised.
        ``file_index_entries`` (recid -> index key -> files, each ``uri``, ``size``,
        ``checksum``) replaces the listed contents of those file indices in the same
        transaction; indices not named keep theirs. With ``keep_experiments``, a record whose
        experiments differ from its current version's raises :class:`CatalogConflictError`
        (ingest checks this first and says how to override; this guards against a writer in
        between). ``pending`` are store paths whose journal rows (:attr:`pending`) this write
        completes: they are removed in the same transaction, and if any is gone (the write was
        taken for abandoned and its bytes removed) :class:`PendingWriteLostError` rolls it back.
        """
        now = now or _now()
        result = WriteResult()
        with self.transaction() as conn:
            if expect_versions:
                self._check_versions(conn, expect_versions)
            for chunk in _chunks(batch):
                result.merge(self._write_chunk(conn, chunk, now, keep_experiments))
                if progress is not None:
                    progress(len(chunk))
            put_replicas(conn, replicas)
            complete_pending(conn, pending)
            if file_index_entries:
                _put_file_index_entries(conn, file_index_entries, result.updated)
        return result

    def _check_versions(self, conn: Connection, expected: dict[str, int]) -> None:
        current = dict(
            conn.execute(
                select(records.c.recid, records.c.version).where(
                    records.c.recid.in_(list(expected))
                )
            ).all()
        )
        for recid, version in expected.items():
            if current.get(recid, 0) != version:
                raise CatalogConflictError(
                    f"record {recid} changed meanwhile (version {current.get(recid, 0)},"
                    f" expected {version}): retry"
                )

    def _write_chunk(
        self, conn: Connection, chunk: Sequence[Record], now: datetime, keep_experiments: bool
    ) -> WriteResult:
        result = WriteResult()
        recids = [r.recid for r in chunk]
        current = {
            row.recid: row
            for row in conn.execute(
                select(
                    records.c.recid,
                    records.c.version,
                    records.c.content_hash,
                    records.c.experiment,
                ).where(records.c.recid.in_(recids))
            )
        }
        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        version_rows: list[dict[str, Any]] = []
        file_rows: list[dict[str, Any]] = []
        log_rows: list[dict[str, Any]] = []
        for record in chunk:
            data = record.to_json()
            digest = content_hash(data)
            existing = current.get(record.recid)
            if existing is not None and existing.content_hash == digest:
                result.unchanged.append(record.recid)
                continue
            if existing is not None and keep_experiments:
                held = orjson.loads(existing.experiment)
                if set(held) != set(record.experiment):
                    raise CatalogConflictError(
                        f"record {record.recid} exists with experiment {', '.join(held)}, "
                        f"not {', '.join(record.experiment)}"
                    )
            version = 1 if existing is None else existing.version + 1
            row = {
                "recid": record.recid,
                "version": version,
                "doi": record.doi,
                "title": record.title,
                "type_primary": record.type.primary,
                "type_secondary": orjson.dumps(record.type.secondary).decode(),
                "experiment": orjson.dumps(record.experiment).decode(),
                "visible_from": record.visible_from(),
                "content_hash": digest,
                "updated": now,
            }
            if existing is None:
                new_rows.append(row | {"created": now})
                result.created.append(record.recid)
            else:
                changed_rows.append({f"b_{k}": v for k, v in row.items()})
                result.updated.append(record.recid)
            version_rows.append(
                {
                    "recid": record.recid,
                    "version": version,
                    "metadata_json": orjson.dumps(data).decode(),
                    "content_hash": digest,
                    "created": now,
                }
            )
            file_rows += [
                {
                    "recid": record.recid,
                    "position": i,
                    "key": file_key(f),
                    "uri": f["uri"],
                    "size": f["size"],
                    "checksum": f["checksum"],
                    "type": f.get("type"),
                }
                for i, f in enumerate(data.get("files", ()))
            ]
            log_rows.append(
                {
                    "recid": record.recid,
                    "version": version,
                    "operation": "create" if existing is None else "update",
                    "at": now,
                }
            )
        self._check_dois(conn, [r for r in chunk if r.doi and r.recid not in result.unchanged])
        if new_rows:
            conn.execute(insert(records), new_rows)
        if changed_rows:
            conn.execute(
                update(records)
                .where(records.c.recid == bindparam("b_recid"))
                .values({k[2:]: bindparam(k) for k in changed_rows[0] if k != "b_recid"}),
                changed_rows,
            )
            stale = [r["b_recid"] for r in changed_rows]
            self._retire_replaced_files(conn, stale, version_rows)
            conn.execute(delete(files).where(files.c.recid.in_(stale)))
        if version_rows:
            conn.execute(insert(record_versions), version_rows)
        if file_rows:
            conn.execute(insert(files), file_rows)
        if log_rows:
            conn.execute(insert(changelog), log_rows)
        return result

    def _retire_replaced_files(
        self, conn: Connection, recids: Sequence[str], version_rows: Sequence[dict[str, Any]]
    ) -> None:
        """Before the ``files`` rows of ``recids`` are replaced by their new versions': keep
        those the new version no longer lists as former files of the version before."""
        new_versions = {r["recid"]: r for r in version_rows}
        old: dict[str, dict[str, tuple[int, str]]] = {}
        for chunk in _chunks(list(recids)):
            query = select(files.c.recid, files.c.uri, files.c.size, files.c.checksum).where(
                files.c.recid.in_(chunk)
            )
            for row in conn.execute(query):
                old.setdefault(row.recid, {})[row.uri] = (int(row.size), row.checksum)
        for recid, listed in old.items():
            new = new_versions[recid]
            kept = {str(f["uri"]) for f in orjson.loads(new["metadata_json"]).get("files", ())}
            dropped = {uri: v for uri, v in listed.items() if uri not in kept}
            _retire_files(conn, recid, dropped, int(new["version"]) - 1)

    def _check_dois(self, conn: Connection, batch: list[Record]) -> None:
        owners = _doi_owners(conn, [r.doi for r in batch if r.doi])
        for record in batch:
            owner = owners.get(record.doi or "")
            if owner is not None and owner != record.recid:
                raise CatalogConflictError(
                    f"record {record.recid}: doi {record.doi} already belongs to record {owner}"
                )

    def experiments(self, recids: Sequence[str]) -> dict[str, list[str]]:
        """The experiments of those of ``recids`` the catalogue holds (embargoed ones too)."""
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(recids))):
                query = select(records.c.recid, records.c.experiment).where(
                    records.c.recid.in_(chunk)
                )
                found.update(
                    (row.recid, orjson.loads(row.experiment)) for row in conn.execute(query)
                )
        return found

    def doi_owners(self, batch: Sequence[Record]) -> dict[str, str]:
        """Which recid holds each DOI of ``batch`` in the catalogue (DOIs are unique)."""
        with self.engine.connect() as conn:
            return _doi_owners(conn, [r.doi for r in batch if r.doi])

    # -- reading ---------------------------------------------------------------------------

    def _public(self, now: datetime) -> Any:
        return records.c.visible_from <= now

    def get(
        self,
        recid: str,
        version: int | None = None,
        *,
        include_embargoed: bool = False,
        now: datetime | None = None,
    ) -> StoredRecord:
        """The current (or a given) version of a public record; ``RecordNotFoundError`` if none."""
        params: dict[str, Any] = {"recid": recid, "now": now or _now(), "version": version}
        query = _get_query(version is not None, not include_embargoed)
        with self.engine.connect() as conn:
            row = conn.execute(query, params).first()
        if row is None:
            raise RecordNotFoundError(recid, version)
        return StoredRecord(
            recid=recid,
            version=row.version,
            metadata=orjson.loads(row.metadata_json),
            created=row.created,
            updated=row.version_created,
            visible_from=row.visible_from,
        )

    def versions(
        self, recid: str, *, include_embargoed: bool = False, now: datetime | None = None
    ) -> list[VersionInfo]:
        """Every stored version of a record, oldest first."""
        query = _versions_query(not include_embargoed)
        with self.engine.connect() as conn:
            rows = conn.execute(query, {"recid": recid, "now": now or _now()}).all()
        if not rows:
            raise RecordNotFoundError(recid)
        return [VersionInfo(r.version, r.created, r.content_hash) for r in rows]

    def iter_public(self, *, now: datetime | None = None) -> Iterator[StoredRecord]:
        """Every public record's current version, in recid order (streamed)."""
        return self.iter_current(public_at=now or _now())

    def public_updates(
        self, *, offset: int = 0, limit: int | None = None, now: datetime | None = None
    ) -> Iterator[tuple[str, datetime]]:
        """``(recid, updated)`` of public records, in recid order from ``offset`` (streamed;
        what a sitemap lists, without reading the records' JSON)."""
        query = (
            select(records.c.recid, records.c.updated)
            .where(self._public(now or _now()))
            .order_by(records.c.recid)
            .offset(offset)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=5000).execute(query):
                yield row.recid, row.updated

    def iter_current(
        self, recids: Sequence[str] | None = None, *, public_at: datetime | None = None
    ) -> Iterator[StoredRecord]:
        """Current versions (of ``recids``, or all), embargoed ones too unless ``public_at``.

        Derived indexes read this: they hold embargoed records and hide them until their
        ``visible_from``, since an embargo ends without any change to follow.
        """
        if recids is not None:
            for chunk in _chunks(list(recids)):
                yield from self._iter_current(chunk, public_at)
            return
        yield from self._iter_current(None, public_at)

    def _iter_current(
        self, recids: Sequence[str] | None, public_at: datetime | None
    ) -> Iterator[StoredRecord]:
        query = (
            select(
                records.c.recid,
                records.c.version,
                records.c.created,
                records.c.updated,
                records.c.visible_from,
                record_versions.c.metadata_json,
            )
            .join(
                record_versions,
                (record_versions.c.recid == records.c.recid)
                & (record_versions.c.version == records.c.version),
            )
            .order_by(records.c.recid)
        )
        if recids is not None:
            query = query.where(records.c.recid.in_(recids))
        if public_at is not None:
            query = query.where(self._public(public_at))
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=1000).execute(query):
                yield StoredRecord(
                    recid=row.recid,
                    version=row.version,
                    metadata=orjson.loads(row.metadata_json),
                    created=row.created,
                    updated=row.updated,
                    visible_from=row.visible_from,
                )

    def files(self, recid: str) -> list[dict[str, Any]]:
        """The files of a record's current version, in record order."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(files).where(files.c.recid == recid).order_by(files.c.position)
            ).all()
        return [dict(r._mapping) for r in rows]

    def all_files(self) -> Iterator[tuple[str, str, int, str]]:
        """Every file of every record's current version (embargoed ones too), streamed:
        (recid, uri, size, checksum). What a fixity audit compares the store with."""
        query = select(files.c.recid, files.c.uri, files.c.size, files.c.checksum)
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=5000).execute(query):
                yield row.recid, row.uri, int(row.size), row.checksum

    def titles(self, recids: Sequence[str], *, now: datetime | None = None) -> dict[str, str]:
        """The titles of those of ``recids`` that are public records (one query per 500)."""
        wanted = list(dict.fromkeys(recids))
        found: dict[str, str] = {}
        if not wanted:
            return found
        at = now or _now()
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                rows = conn.execute(_TITLES, {"recids": chunk, "now": at})
                found.update((row.recid, row.title) for row in rows)
        return found

    def uri_is_public(self, uri: str, *, now: datetime | None = None) -> bool:
        """Whether a version of a public record lists ``uri`` (in ``files`` or in one of its
        file indices): the current one, or an older one (its *former files*: every version
        keeps serving the bytes it names). The files of embargoed records are not served
        before their release.
        """
        public = self._public(now or _now())
        listed = (
            select(files.c.recid)
            .join(records, records.c.recid == files.c.recid)
            .where(files.c.uri == uri, public)
            .limit(1)
        )
        indexed = (
            select(file_index_entries.c.recid)
            .join(records, records.c.recid == file_index_entries.c.recid)
            .where(file_index_entries.c.uri == uri, public)
            .limit(1)
        )
        former = (
            select(former_files.c.recid)
            .join(records, records.c.recid == former_files.c.recid)
            .where(former_files.c.uri == uri, public)
            .limit(1)
        )
        with self.engine.connect() as conn:
            return any(conn.execute(q).first() is not None for q in (listed, indexed, former))

    def named_uris(self, uris: Sequence[str]) -> set[str]:
        """Those of ``uris`` that some version of some record names (embargoed ones too), in
        its ``files[]`` or a file index: bytes there belong to a record, never to nobody."""
        found: set[str] = set()
        wanted = list(dict.fromkeys(uris))
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                for column in (files.c.uri, file_index_entries.c.uri, former_files.c.uri):
                    found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
        return found

    def file_index_entries(self, recid: str, index_key: str | None = None) -> list[dict[str, Any]]:
        """The files a record's file indices list (or one index's), by index then position."""
        query = select(file_index_entries).where(file_index_entries.c.recid == recid)
        if index_key is not None:
            query = query.where(file_index_entries.c.index_key == index_key)
        query = query.order_by(file_index_entries.c.index_key, file_index_entries.c.position)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def changes(self, since: int = 0, limit: int = 10_000) -> list[Change]:
        """Change-log entries with ``seq > since``, in order: what a derived index must apply."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(changelog)
                .where(changelog.c.seq > since)
                .order_by(changelog.c.seq)
                .limit(limit)
            ).all()
        return [Change(r.seq, r.recid, r.version, r.operation, r.at) for r in rows]

    def last_change(self) -> int:
        """The newest change-log number (0 for an empty catalogue): what indexes compare to."""
        return int(self._probe_row("SELECT COALESCE(MAX(seq), 0) FROM changelog")[0])

    def state(self) -> CatalogState:
        """The newest change-log number and the replicas' generation, in one cheap read:
        every answer the portal gives about public records is a function of these two and
        of the time (embargoes end, see :meth:`next_release`)."""
        changes, replicas_generation, documents_generation = self._probe_row(
            "SELECT (SELECT COALESCE(MAX(seq), 0) FROM changelog),"
            " (SELECT COALESCE(MAX(value), 0) FROM generations WHERE name = 'replicas'),"
            " (SELECT COALESCE(MAX(value), 0) FROM generations WHERE name = 'documents')"
        )
        return CatalogState(int(changes), int(replicas_generation), int(documents_generation))

    def _probe_row(self, sql: str) -> tuple[Any, ...]:
        """One row of a constant query, as fresh as the latest commit.

        Asked before every search, so it skips SQLAlchemy's per-statement work: one plain
        query on a dedicated autocommit connection, which always sees the latest commit.
        """
        with self._probe_lock:
            for attempt in (1, 2):
                if self._probe is None:
                    self._probe = self.engine.raw_connection()
                    if not self.is_sqlite:
                        self._probe.driver_connection.autocommit = True
                try:
                    cursor = self._probe.cursor()
                    try:
                        cursor.execute(sql)
                        return tuple(cursor.fetchone())
                    finally:
                        cursor.close()
                except self.engine.dialect.loaded_dbapi.Error:
                    # A dropped connection (database restarted): reconnect once.
                    self._probe.invalidate()
                    self._probe = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def next_release(self, now: datetime | None = None) -> datetime | None:
        """When the next embargoed record becomes public (None: none is waiting)."""
        now = now or _now()
        query = select(func.min(records.c.visible_from)).where(records.c.visible_from > now)
        with self.engine.connect() as conn:
            found: datetime | None = conn.execute(query).scalar_one()
        return found

    def count(self, *, include_embargoed: bool = False, now: datetime | None = None) -> int:
        query = select(func.count()).select_from(records)
        if not include_embargoed:
            query = query.where(self._public(now or _now()))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def stats(self, *, now: datetime | None = None) -> CatalogStats:
        """Counts of public records per experiment, type and subtype, and of embargoed ones."""
        now = now or _now()
        experiment: Counter[str] = Counter()
        primary: Counter[str] = Counter()
        subtype: Counter[str] = Counter()
        total = 0
        query = select(records.c.experiment, records.c.type_primary, records.c.type_secondary)
        with self.engine.connect() as conn:
            embargoed = int(
                conn.execute(
                    select(func.count()).select_from(records).where(records.c.visible_from > now)
                ).scalar_one()
            )
            for row in conn.execution_options(yield_per=5000).execute(
                query.where(self._public(now))
            ):
                total += 1
                experiment.update(set(orjson.loads(row.experiment)))
                primary[row.type_primary] += 1
                subtype.update(
                    {f"{row.type_primary}::{s}" for s in orjson.loads(row.type_secondary)}
                )
        return CatalogStats(
            total=total,
            embargoed=embargoed,
            experiment=dict(sorted(experiment.items())),
            type=dict(sorted(primary.items())),
            subtype=dict(sorted(subtype.items())),
        )


# Statements of the hot reads, built once: building one costs more than running it (SQLite,
# ~140 of ~270 us a read of a record; the compiled form is cached by SQLAlchemy either way).
_PUBLIC_AT = records.c.visible_from <= bindparam("now")


@functools.cache
def _get_query(versioned: bool, public: bool) -> Any:
    """A record's current (or, ``versioned``, a given) version: parameters recid, version,
    now."""
    version = bindparam("version") if versioned else records.c.version
    query = (
        select(
            record_versions.c.version,
            record_versions.c.metadata_json,
            records.c.created,
            record_versions.c.created.label("version_created"),
            records.c.visible_from,
        )
        .join(records, records.c.recid == record_versions.c.recid)
        .where(record_versions.c.recid == bindparam("recid"))
        .where(record_versions.c.version == version)
    )
    return query.where(_PUBLIC_AT) if public else query


@functools.cache
def _versions_query(public: bool) -> Any:
    """A record's versions, oldest first: parameters recid, now."""
    query = (
        select(record_versions.c.version, record_versions.c.created, record_versions.c.content_hash)
        .join(records, records.c.recid == record_versions.c.recid)
        .where(record_versions.c.recid == bindparam("recid"))
        .order_by(record_versions.c.version)
    )
    return query.where(_PUBLIC_AT) if public else query


#: The titles of those of a list of recids that are public: parameters recids, now.
_TITLES = select(records.c.recid, records.c.title).where(
    records.c.recid.in_(bindparam("recids", expanding=True)) & _PUBLIC_AT
)
