"""Turning untrusted JSON into a validated ``Record``."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from openhep.model._errors import FieldError, RecordValidationError, from_pydantic
from openhep.model._record import Record


def validate_record(data: Any) -> Record:
    """Validate one record's JSON; raise ``RecordValidationError`` listing every problem."""
    if not isinstance(data, dict):
        raise RecordValidationError(
            [FieldError("", f"a record must be a JSON object, got {type(data).__name__}")]
        )
    recid = data.get("recid")
    try:
        record = Record.model_validate(data)
    except ValidationError as exc:
        raise from_pydantic(exc, recid=str(recid) if recid is not None else None) from None
    # No database stores NUL in text; one cheap scan of the serialised record finds candidates
    # (a literal backslash-u0000 in a text matches too, hence the walk that names the fields).
    if b"\\u0000" in orjson.dumps(data) and (paths := _nul_paths(data, "")):
        message = "contains a NUL character (\\u0000), which cannot be stored"
        raise RecordValidationError([FieldError(p, message) for p in paths], recid=record.recid)
    return record


def _nul_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _nul_paths(item, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [
            p
            for key, item in value.items()
            for p in _nul_paths(item, f"{path}.{key}" if path else str(key))
        ]
    return []


def record_json_schema() -> dict[str, Any]:
    """The JSON Schema of the record format (what ``openhep schema`` prints)."""
    schema = Record.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://openhep.org/schemas/record.json"
    return schema
