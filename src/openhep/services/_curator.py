"""The data curator's services: what the ``openhep`` command does to one instance — ingest
records and documentation pages, publish records with their files, add files and file
indices, audit fixity, manage the write API's tokens, rebuild the search index.

A :class:`Curator` opens the catalogue and the file store only when a job needs them, and
closes them with itself (``with Curator() as curator:``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from openhep.catalog import (
    Catalog,
    CatalogStats,
    DocumentsResult,
    DocumentSummary,
    IngestProgress,
    IngestReport,
    StoredRecord,
    TokenInfo,
    VersionInfo,
    ingest,
    read_documents,
)
from openhep.files import (
    DEFAULT_GRACE_SECONDS,
    AddResult,
    ExpandedIndex,
    FileIndexResult,
    FileService,
    FixityReport,
    Orphan,
    PublishResult,
    add_file_index,
    expand_file_indices,
    publish_record,
)
from openhep.search import open_index
from openhep.settings import Settings


class Curator:
    """The curation jobs on the instance ``settings`` names (default: the environment's)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._catalog: Catalog | None = None
        self._files: FileService | None = None

    def __enter__(self) -> Curator:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self._files is not None:
                self._files.close()
        finally:
            self._files = None
            if self._catalog is not None:
                self._catalog.close()
            self._catalog = None

    @property
    def catalog(self) -> Catalog:
        """The catalogue, opened (and migrated to the current schema) on first use."""
        if self._catalog is None:
            self._catalog = Catalog.open(self.settings)
        return self._catalog

    @property
    def files(self) -> FileService:
        """The files service, opened on first use."""
        if self._files is None:
            self._files = FileService.open(self.settings, self.catalog)
        return self._files

    # -- the catalogue -----------------------------------------------------------------------

    def migrate(self) -> str:
        """Create the catalogue or bring its schema up to date; its URL."""
        _ = self.catalog
        return str(self.settings.catalog_url)

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        skip_invalid: bool = False,
        replace: bool = False,
        batch_size: int | None = None,
        recursive: bool = False,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Ingest CODP record JSON (see :func:`openhep.catalog.ingest`): every record is
        validated before the catalogue is even opened."""
        return ingest(
            paths,
            lambda: Catalog.open(self.settings),
            skip_invalid=skip_invalid,
            replace=replace,
            batch_size=batch_size,
            recursive=recursive,
            progress=progress,
        )

    def stats(self) -> CatalogStats:
        return self.catalog.stats()

    def record(self, recid: str, version: int | None = None) -> StoredRecord:
        """A public record (``RecordNotFoundError`` otherwise)."""
        return self.catalog.get(recid, version)

    def versions(self, recid: str) -> list[VersionInfo]:
        return self.catalog.versions(recid)

    def reindex(self) -> int:
        """Rebuild the search index from the catalogue; how many records it holds."""
        return open_index(self.settings.home).rebuild(self.catalog)

    # -- documentation pages ---------------------------------------------------------------

    def load_documents(self, folder: Path) -> DocumentsResult:
        """Read every document of ``folder`` (all checked first) and write them in one
        transaction: a broken one means nothing is written (``DocumentSourceError``)."""
        documents = read_documents(folder)
        return self.catalog.documents.put(documents)

    def documents(self) -> list[DocumentSummary]:
        return self.catalog.documents.list()

    # -- files -------------------------------------------------------------------------------

    def recover(self) -> list[Orphan]:
        """Remove what adds killed before they completed left in the store (cheap: it reads
        the journal only); the orphans removed."""
        return self.files.remove_abandoned()

    def add_files(
        self,
        recid: str,
        items: Sequence[tuple[str, Iterable[bytes]]],
        *,
        file_type: str | None = None,
    ) -> AddResult:
        """Store ``items`` (key, chunks) and add them to record ``recid`` as one new version."""
        return self.files.add(recid, items, file_type=file_type)

    def add_file_index(
        self,
        recid: str,
        directory: Path,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> FileIndexResult:
        return add_file_index(self.files, recid, directory, name=name, description=description)

    def expand_file_indices(self, recid: str) -> list[ExpandedIndex]:
        return expand_file_indices(self.files, recid)

    def publish(self, data: dict[str, Any], sources: Sequence[tuple[str, Path]]) -> PublishResult:
        """Create or update record ``data`` with the files ``sources`` (key, local file)."""
        return publish_record(self.files, data, sources)

    def fixity(
        self,
        *,
        sample: int | None = None,
        grace: float = DEFAULT_GRACE_SECONDS,
        keep_orphans: bool = False,
    ) -> FixityReport:
        return self.files.fixity(sample=sample, grace=grace, keep_orphans=keep_orphans)

    # -- the write API's tokens ----------------------------------------------------------------

    def create_token(self, name: str) -> tuple[TokenInfo, str]:
        """A new token and its secret (shown once: only a digest of it is stored)."""
        return self.catalog.tokens.create(name)

    def tokens(self) -> list[TokenInfo]:
        return self.catalog.tokens.list()

    def revoke_token(self, token_id: int) -> TokenInfo:
        return self.catalog.tokens.revoke(token_id)
