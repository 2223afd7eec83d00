"""The portal's services: what the web app asks of one instance — search, records, versions,
documents, the files a download serves, uploads, file indices, sitemaps and the state its
answer cache follows — over the catalogue, the search index and the files.

Every method is a plain blocking call (SQL, the index, the store): the web app calls them from
plain ``def`` handlers, which FastAPI runs in its thread pool, or hands them to a thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from openhep.catalog import (
    Catalog,
    CatalogState,
    DocumentSummary,
    StoredDocument,
    StoredRecord,
    TokenInfo,
    VersionInfo,
)
from openhep.files import AddResult, FileService, Orphan, RemoteFile, ServedFile
from openhep.formats import file_index_listing
from openhep.model import is_index_file
from openhep.search import Hit, SearchIndex, SearchRequest, SearchResult, SearchService, open_index
from openhep.settings import DEFAULT_ORIGIN_URL, Settings


@dataclass(frozen=True, slots=True)
class RecordView:
    """A public record with what its API answer and page show besides its JSON."""

    stored: StoredRecord
    index_entries: list[dict[str, Any]]
    #: For each of ``files[]``, in order: ``online`` (held here and good), ``remote`` (only at
    #: its URI) or ``corrupt`` (held here, failed its fixity check).
    availability: list[str] = field(default_factory=list)
    #: For each of ``files[]``, in order: the http(s) address its origin serves it at, where a
    #: download of it goes when it is not held here as good bytes (None: it has no origin).
    origins: list[str | None] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NamingRecord:
    """A public record whose ``relations`` name another: what that record's page shows of it."""

    recid: str
    title: str
    relation: str  # the type of its relation to the other record: "isChildOf", …

    @classmethod
    def of(cls, hit: Hit, named: str) -> NamingRecord:
        relations = hit.metadata.get("relations") or []
        kind = next(
            (str(r.get("type") or "") for r in relations if str(r.get("recid")) == named), ""
        )
        return cls(hit.recid, str(hit.metadata.get("title") or ""), kind)


@dataclass(frozen=True, slots=True)
class SitemapSource:
    """What ``/sitemap.xml`` lists: the documents held here and how many public records (their
    ``(recid, updated)`` come from :meth:`Portal.record_updates`)."""

    documents: list[DocumentSummary]
    records: int


class Portal:
    """One instance: its catalogue (the truth), its search index (derived from it) and its
    files.

    Every search first brings the index up to the catalogue's change log, so a record
    ingested or updated is searchable at once.
    """

    def __init__(
        self,
        catalog: Catalog,
        index: SearchIndex,
        files: FileService | None = None,
        *,
        origin_url: str = DEFAULT_ORIGIN_URL,
    ) -> None:
        self.catalog = catalog
        #: The portal the records came from (``OPENHEP_ORIGIN_URL``; "" none).
        self.origin_url = origin_url
        self.index = index
        self._files = files
        self.search_service = SearchService(index)

    @property
    def files(self) -> FileService:
        if self._files is None:
            raise RuntimeError("this portal was opened without a file store")
        return self._files

    @classmethod
    def open(cls, settings: Settings | None = None) -> Portal:
        settings = settings or Settings.from_env()
        catalog = Catalog.open(settings)
        return cls(
            catalog,
            open_index(settings.home),
            FileService.open(settings, catalog),
            origin_url=settings.origin_url,
        )

    def close(self) -> None:
        if self._files is not None:
            self._files.close()
        self.catalog.close()

    # -- keeping up with the catalogue -------------------------------------------------------

    def refresh(self, *, wait: float = 5.0) -> int:
        """Apply catalogue changes the index has not seen; return how many records changed."""
        return self.index.sync(self.catalog, wait=wait)

    def recover(self, *, partial_age: float = 3600.0) -> list[Orphan]:
        """Remove what adds killed before they completed left in the store (journaled: see
        ``openhep.files``), and partial writes older than ``partial_age`` seconds (from before
        the journal); the orphans removed."""
        orphans = self.files.remove_abandoned()
        self.files.store.remove_partial(older_than_seconds=partial_age)
        return orphans

    def answer_state(self) -> CatalogState | None:
        """The catalogue's state once the search index has caught up with it (None if it
        could not: an answer computed now must not be kept): what every answer about public
        records is a function of, with the time (see :meth:`next_release`)."""
        state = self.catalog.state()
        if self.index.generation != state.changes:
            self.refresh()
            if self.index.generation != state.changes:
                return None
        return state

    def next_release(self) -> datetime | None:
        """When the next embargoed record becomes public (None: none is waiting)."""
        return self.catalog.next_release()

    # -- records -----------------------------------------------------------------------------

    def search(self, request: SearchRequest, *, now: datetime | None = None) -> SearchResult:
        self.refresh()
        return self.search_service.search(request, now=now)

    def record(self, recid: str, version: int | None = None) -> RecordView:
        """A public record (``RecordNotFoundError`` otherwise) and its file indices' contents.

        The catalogue holds the contents of the current version's file indices only: an
        older version is answered without them (its index files are still listed).
        """
        stored = self.catalog.get(recid, version)
        has_index = any(is_index_file(f) for f in stored.metadata.get("files", []))
        if has_index and version is not None:
            has_index = self.catalog.versions(recid)[-1].version == stored.version
        entries = self.catalog.file_index_entries(recid) if has_index else []
        uris = [str(f["uri"]) for f in stored.metadata.get("files", [])]
        availability: list[str] = []
        origins: list[str | None] = []
        if self._files is not None and uris:
            availability = list(self._files.availability(uris))
            origins = self._files.origin_urls(uris)
        return RecordView(stored, entries, availability, origins)

    def naming(self, recid: str, *, limit: int) -> tuple[int, list[NamingRecord]]:
        """The public records whose ``relations`` name record ``recid`` (samples and records
        derived from it, its parts, …), in recid order: how many, and the first ``limit``."""
        self.refresh()
        total, hits = self.search_service.naming(recid, limit=limit)
        return total, [NamingRecord.of(hit, recid) for hit in hits]

    def titles(self, recids: list[str]) -> dict[str, str]:
        """The titles of the public records among ``recids`` (what a page links to by recid)."""
        return self.catalog.titles(recids)

    def versions(self, recid: str) -> list[VersionInfo]:
        return self.catalog.versions(recid)

    def sitemap(self) -> SitemapSource:
        return SitemapSource(self.catalog.documents.list(), self.catalog.count())

    def record_updates(
        self, *, offset: int = 0, limit: int | None = None
    ) -> Iterator[tuple[str, datetime]]:
        """``(recid, updated)`` of public records in recid order from ``offset`` (streamed)."""
        return self.catalog.public_updates(offset=offset, limit=limit)

    # -- documents (CODP's documentation and news pages) ------------------------------------

    def document(self, slug: str) -> StoredDocument | None:
        """The document ``slug`` (None: none held here, or not a slug)."""
        return self.catalog.documents.get(slug)

    def documents(
        self, *, q: str = "", experiment: str | None = None, type: str | None = None
    ) -> list[DocumentSummary]:
        """The documents matching ``q`` (every word, in title, description or body), of
        ``experiment`` and ``type`` (``doc`` or ``news``) if given. ValueError: a bad ``q``."""
        return self.catalog.documents.list(q=q, experiment=experiment, type=type)

    def document_slugs(self) -> frozenset[str]:
        return self.catalog.documents.slugs()

    def document_experiments(self) -> dict[str, int]:
        return self.catalog.documents.experiments()

    # -- files: what a download serves ---------------------------------------------------------

    def held_paths(self, store_paths: list[str]) -> set[str]:
        """Those of ``store_paths`` (``eos/opendata/…``) this instance holds good bytes of."""
        if self._files is None or not store_paths:
            return set()
        found = self.catalog.replicas.get_many(store_paths)
        return {path for path, replica in found.items() if replica.is_good}

    def public_file(self, path: str) -> ServedFile | RemoteFile:
        """What ``/eos/opendata/<path>`` serves (see :meth:`FileService.public_file`)."""
        return self.files.public_file(path)

    def record_file(
        self, recid: str, key: str, version: int | None = None
    ) -> ServedFile | RemoteFile:
        """The file ``key`` of public record ``recid`` (of its ``version``: an older version's
        key may name other bytes than today's, and that version's are served)."""
        return self.files.record_file(self.catalog.get(recid, version), key)

    def open_file(self, served: ServedFile) -> BinaryIO:
        """A seekable reader of the bytes of a file :meth:`public_file` or :meth:`record_file`
        vouched for."""
        return self.files.reader(served)

    def report_corrupt(self, path: str, detail: str) -> None:
        """The bytes at store path ``path`` turned out not to match (while being served)."""
        self.files.report_corrupt(path, detail)

    def file_index(self, recid: str, key: str) -> tuple[str, list[dict[str, Any]]] | None:
        """What ``/record/<recid>/file_index/<key>`` serves: (``json``/``txt``, the files
        listed), or None if the public record has no such index whose contents are known."""
        view = self.record(recid)
        return file_index_listing(view.stored.metadata.get("files", []), view.index_entries, key)

    # -- files: the write API --------------------------------------------------------------

    @property
    def max_upload_bytes(self) -> int | None:
        return self.files.max_upload_bytes

    def authenticate(self, secret: str) -> TokenInfo | None:
        """The token whose secret is ``secret`` (None: unknown or revoked)."""
        return self.catalog.tokens.authenticate(secret)

    def add_file(
        self,
        recid: str,
        key: str,
        chunks: Iterable[bytes],
        *,
        file_type: str | None = None,
        expected: str | None = None,
    ) -> AddResult:
        """Store ``chunks`` as the file ``key`` of record ``recid`` (a new version), checked
        against the ``expected`` checksum if one was announced (``adler32:…``/``sha256:…``)."""
        return self.files.add(
            recid,
            [(key, chunks)],
            file_type=file_type,
            expected={key: expected} if expected else None,
        )
