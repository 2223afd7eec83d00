"""The record model: CODP's record format, validation with field paths, the JSON Schema."""

from __future__ import annotations

from openhep.model._errors import FieldError, RecordValidationError
from openhep.model._record import (
    File,
    Record,
    RecordType,
    normalize_checksum,
    parse_release_date,
)
from openhep.model._validate import record_json_schema, validate_record

__all__ = [
    "FieldError",
    "File",
    "Record",
    "RecordType",
    "RecordValidationError",
    "normalize_checksum",
    "parse_release_date",
    "record_json_schema",
    "validate_record",
]
