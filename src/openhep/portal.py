"""The portal's services: records, versions, documents and search over one instance's catalogue
and index."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from openhep.catalog import (
    Catalog,
    DocumentSummary,
    StoredDocument,
    StoredRecord,
    VersionInfo,
)
from openhep.search._index import SearchIndex, open_index
from openhep.search._service import Hit, SearchRequest, SearchResult, SearchService
from openhep.settings import DEFAULT_ORIGIN_URL, Settings
from openhep.storage import FileService


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


class Portal:
    """One instance: its catalogue (the truth) and its search index (derived from it).

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

    def refresh(self, *, wait: float = 5.0) -> int:
        """Apply catalogue changes the index has not seen; return how many records changed."""
        return self.index.sync(self.catalog, wait=wait)

    def search(self, request: SearchRequest, *, now: datetime | None = None) -> SearchResult:
        self.refresh()
        return self.search_service.search(request, now=now)

    def record(self, recid: str, version: int | None = None) -> RecordView:
        """A public record (``RecordNotFoundError`` otherwise) and its file indices' contents.

        The catalogue holds the contents of the current version's file indices only: an
        older version is answered without them (its index files are still listed).
        """
        stored = self.catalog.get(recid, version)
        has_index = any(
            str(f.get("type", "")).startswith("index") for f in stored.metadata.get("files", [])
        )
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

    def held_paths(self, store_paths: list[str]) -> set[str]:
        """Those of ``store_paths`` (``eos/opendata/…``) this instance holds good bytes of."""
        if self._files is None or not store_paths:
            return set()
        found = self.catalog.replicas.get_many(store_paths)
        return {path for path, replica in found.items() if replica.is_good}
