"""What the services answer when a request cannot be read as given."""

from __future__ import annotations

from typing import Any


class QueryError(ValueError):
    """A request that cannot be read as given; ``field`` names the part to change. The web
    answers 400 with :meth:`to_json`."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message}
        if self.field:
            out["field"] = self.field
        return out
