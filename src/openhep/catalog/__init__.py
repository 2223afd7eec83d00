"""The catalogue: records with every version, files, file indices, the change log and the
documentation pages."""

from __future__ import annotations

from openhep.catalog._catalog import (
    Catalog,
    CatalogConflictError,
    CatalogState,
    CatalogStats,
    Change,
    RecordNotFoundError,
    StoredRecord,
    VersionInfo,
    WriteResult,
    content_hash,
)
from openhep.catalog._documents import (
    DocumentSourceError,
    DocumentsResult,
    DocumentSummary,
    StoredDocument,
    read_documents,
)
from openhep.catalog._ingest import (
    IngestProgress,
    IngestReport,
    IngestSourceError,
    collect_paths,
    ingest,
)
from openhep.catalog._pending import PendingWrite, PendingWriteLostError
from openhep.catalog._replicas import Replica, ReplicaState
from openhep.catalog._tokens import TOKEN_PREFIX, TokenInfo

__all__ = [
    "TOKEN_PREFIX",
    "Catalog",
    "CatalogConflictError",
    "CatalogState",
    "CatalogStats",
    "Change",
    "DocumentSourceError",
    "DocumentSummary",
    "DocumentsResult",
    "IngestProgress",
    "IngestReport",
    "IngestSourceError",
    "PendingWrite",
    "PendingWriteLostError",
    "RecordNotFoundError",
    "Replica",
    "ReplicaState",
    "StoredDocument",
    "StoredRecord",
    "TokenInfo",
    "VersionInfo",
    "WriteResult",
    "collect_paths",
    "content_hash",
    "ingest",
    "read_documents",
]
