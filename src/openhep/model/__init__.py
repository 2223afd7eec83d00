"""The record model: CODP's record format of any age, validation with field paths, the JSON
Schema; and CODP's documentation and news pages (:class:`Document`)."""

from __future__ import annotations

from openhep.model._document import (
    DOCUMENT_SLUG,
    DOCUMENT_TYPES,
    Document,
    DocumentError,
    DocumentInfo,
    DocumentType,
    body_file,
    front_of,
    parse_document,
)
from openhep.model._errors import FieldError, RecordValidationError, field_path
from openhep.model._keys import (
    INDEX_SUFFIX,
    INDEX_TYPES,
    MAX_KEY_BYTES,
    FileKeyError,
    check_file_key,
    file_key,
    index_key_of,
    is_index_file,
)
from openhep.model._record import (
    RECID,
    RECID_PATTERN,
    File,
    Record,
    RecordType,
    normalize_checksum,
    parse_release_date,
)
from openhep.model._upgrade import Repair, RepairKind, UpgradedRecord, upgrade_record
from openhep.model._validate import record_json_schema, validate_record, validate_upgraded
from openhep.model._view import Described, Link, MethodologyStep, RecordData, RecordFile

__all__ = [
    "DOCUMENT_SLUG",
    "DOCUMENT_TYPES",
    "INDEX_SUFFIX",
    "INDEX_TYPES",
    "MAX_KEY_BYTES",
    "RECID",
    "RECID_PATTERN",
    "Described",
    "Document",
    "DocumentError",
    "DocumentInfo",
    "DocumentType",
    "FieldError",
    "File",
    "FileKeyError",
    "Link",
    "MethodologyStep",
    "Record",
    "RecordData",
    "RecordFile",
    "RecordType",
    "RecordValidationError",
    "Repair",
    "RepairKind",
    "UpgradedRecord",
    "body_file",
    "check_file_key",
    "field_path",
    "file_key",
    "front_of",
    "index_key_of",
    "is_index_file",
    "normalize_checksum",
    "parse_document",
    "parse_release_date",
    "record_json_schema",
    "upgrade_record",
    "validate_record",
    "validate_upgraded",
]
