"""The record model: CODP's record format of any age, validation with field paths, JSON Schema."""

from __future__ import annotations

from openhep.model._errors import FieldError, RecordValidationError
from openhep.model._record import (
    File,
    Record,
    RecordType,
    normalize_checksum,
    parse_release_date,
)
from openhep.model._upgrade import Repair, RepairKind, UpgradedRecord, upgrade_record
from openhep.model._validate import record_json_schema, validate_record, validate_upgraded

__all__ = [
    "FieldError",
    "File",
    "Record",
    "RecordType",
    "RecordValidationError",
    "Repair",
    "RepairKind",
    "UpgradedRecord",
    "normalize_checksum",
    "parse_release_date",
    "record_json_schema",
    "upgrade_record",
    "validate_record",
    "validate_upgraded",
]
