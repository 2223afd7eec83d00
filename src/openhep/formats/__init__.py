"""Exports: the record in CODP's API shape and in schema.org JSON-LD."""

from __future__ import annotations

from openhep.formats.codp import api_record, file_entry, search_hit
from openhep.formats.schemaorg import schemaorg

__all__ = ["api_record", "file_entry", "schemaorg", "search_hit"]
