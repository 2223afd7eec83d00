"""The catalogue: records with every version, files, file indices and the change log."""

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
    file_key,
)
from openhep.catalog._replicas import Replica, ReplicaState
from openhep.catalog._tokens import TOKEN_PREFIX, TokenInfo

__all__ = [
    "TOKEN_PREFIX",
    "Catalog",
    "CatalogConflictError",
    "CatalogState",
    "CatalogStats",
    "Change",
    "RecordNotFoundError",
    "Replica",
    "ReplicaState",
    "StoredRecord",
    "TokenInfo",
    "VersionInfo",
    "WriteResult",
    "content_hash",
    "file_key",
]
