"""Exports: the record in CODP's API shape and in schema.org JSON-LD."""

from __future__ import annotations

from openhep.formats.codp import (
    api_record,
    file_entry,
    file_index_listing,
    file_indices,
    search_hit,
)
from openhep.formats.schemaorg import schemaorg

__all__ = [
    "api_record",
    "file_entry",
    "file_index_listing",
    "file_indices",
    "schemaorg",
    "search_hit",
]
