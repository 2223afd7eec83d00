"""Errors a curator can meet when a record does not fit the model, each with its field path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem in one record: where (``files[3].checksum``) and what was expected."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class RecordValidationError(ValueError):
    """A record that does not fit the CODP record format; ``errors`` lists every problem."""

    def __init__(self, errors: list[FieldError], recid: str | None = None) -> None:
        self.errors = errors
        self.recid = recid
        where = f"record {recid}: " if recid else ""
        super().__init__(where + "; ".join(str(e) for e in errors))


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('files', 3, 'checksum')`` → ``files[3].checksum``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


_MESSAGES = {"missing": "required field is missing"}


def _message(error: Any) -> str:
    kind = error["type"]
    if kind in _MESSAGES:
        return str(_MESSAGES[kind])
    msg = str(error["msg"])
    if kind == "value_error" and msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    if kind.endswith("_type") or kind == "model_type":
        given = type(error.get("input")).__name__
        given = {"NoneType": "null", "str": "string", "dict": "object", "list": "array"}.get(
            given, given
        )
        msg = f"{msg}, got {given}"
    return msg


def from_pydantic(exc: ValidationError, recid: str | None = None) -> RecordValidationError:
    """Translate pydantic's errors into field paths and messages a curator can act on."""
    errors = [
        FieldError(field_path(tuple(_strip_union_tags(err["loc"]))), _message(err))
        for err in exc.errors(include_url=False)
    ]
    return RecordValidationError(errors, recid=recid)


def _strip_union_tags(loc: tuple[int | str, ...]) -> list[int | str]:
    # pydantic names the branch of an Optional it tried ("list[File]", "function-after[...]");
    # curators only need the field's own path.
    return [p for p in loc if not (isinstance(p, str) and ("[" in p or p in {"none"}))]
