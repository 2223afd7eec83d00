"""The catalogue: records with every version, files, file indices and the change log."""

from __future__ import annotations

from openhep.catalog._catalog import (
    Catalog,
    CatalogConflictError,
    CatalogStats,
    Change,
    RecordNotFoundError,
    StoredRecord,
    VersionInfo,
    WriteResult,
    content_hash,
    file_key,
)

__all__ = [
    "Catalog",
    "CatalogConflictError",
    "CatalogStats",
    "Change",
    "RecordNotFoundError",
    "StoredRecord",
    "VersionInfo",
    "WriteResult",
    "content_hash",
    "file_key",
]
