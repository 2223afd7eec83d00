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
from openhep.catalog._pending import PendingWrite, PendingWriteLostError
from openhep.catalog._replicas import Replica, ReplicaState
from openhep.catalog._tokens import TOKEN_PREFIX, TokenInfo
from openhep.model import file_key  # the rule lives with the record format; kept here too

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
    "content_hash",
    "file_key",
    "read_documents",
]
