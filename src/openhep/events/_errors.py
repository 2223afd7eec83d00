"""The errors an event reader can meet: each says what to change and where."""

from __future__ import annotations

from typing import Any


class EventFileError(ValueError):
    """The file cannot be read as events: ``message`` names the file, the entry and, for a
    text that does not parse, the line and column (the web answers 422)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message}


class EventNotFound(LookupError):
    """An event index outside the file (the web answers 404)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownObjects(ValueError):
    """Object ids asked for that the event does not hold (the web answers 400); ``ids`` are
    the ones not found, in the order asked."""

    def __init__(self, ids: list[str]) -> None:
        shown = ", ".join(repr(i[:100]) for i in ids[:10])
        more = f" and {len(ids) - 10} more" if len(ids) > 10 else ""
        message = f"no object {shown}{more} in this event; use the ids of its collections"
        super().__init__(message)
        self.message = message
        self.ids = ids
