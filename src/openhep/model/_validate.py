"""Turning untrusted JSON into a validated ``Record``."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from openhep.model._errors import FieldError, RecordValidationError, from_pydantic
from openhep.model._record import Record
from openhep.model._upgrade import UpgradedRecord, upgrade_record


def validate_record(data: Any) -> Record:
    """Upgrade one record's JSON to the current shapes (see ``upgrade_record``) and validate it;
    raise ``RecordValidationError`` listing every problem."""
    return validate_upgraded(upgrade_record(data))


def validate_upgraded(upgraded: UpgradedRecord) -> Record:
    """Validate a record ``upgrade_record`` returned (for callers that report its repairs)."""
    data = upgraded.data
    if not isinstance(data, dict):
        raise RecordValidationError(
            [FieldError("", f"a record must be a JSON object, got {type(data).__name__}")]
        )
    recid = data.get("recid")
    where = str(recid) if recid is not None else None
    try:
        record = Record.model_validate(data)
    except ValidationError as exc:
        error = from_pydantic(exc, recid=where)
        raise RecordValidationError([*upgraded.problems, *error.errors], recid=where) from None
    if upgraded.problems:
        raise RecordValidationError(list(upgraded.problems), recid=record.recid)
    # No database stores NUL in text, nor JSON an integer beyond 64 bits; one cheap
    # serialisation finds candidates (a literal backslash-u0000 in a text matches too, hence
    # the walk that names the fields).
    try:
        encoded, failure = orjson.dumps(data), None
    except orjson.JSONEncodeError as exc:
        encoded, failure = b"", str(exc)
    if failure is not None or b"\\u0000" in encoded:
        found = _unstorable(data, "")
        if failure is not None and not found:
            found = [("", f"cannot be stored as JSON ({failure})")]
        if found:
            raise RecordValidationError([FieldError(p, m) for p, m in found], recid=record.recid)
    return record


_NUL = "contains a NUL character (\\u0000), which cannot be stored"
_HUGE = "is an integer beyond the 64-bit range JSON is stored with"


def _unstorable(value: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, _NUL)] if "\x00" in value else []
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [] if -(2**63) <= value < 2**64 else [(path, _HUGE)]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _unstorable(item, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [
            p
            for key, item in value.items()
            for p in _unstorable(item, f"{path}.{key}" if path else str(key))
        ]
    return []


def record_json_schema() -> dict[str, Any]:
    """The JSON Schema of the record format (what ``openhep schema`` prints): the current
    shapes, which ``upgrade_record`` brings older records to."""
    schema = Record.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://openhep.org/schemas/record.json"
    return schema
