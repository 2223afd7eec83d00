"""The errors an analysis request can meet: each says what to change."""

from __future__ import annotations

from typing import Any


class AnalysisError(ValueError):
    """A request that cannot be run as given (an unknown tree, an unreadable file, too many
    bins, an empty range, validated runs over a file without ``run``/``luminosityBlock``…).

    Only the message is carried, so that the error crosses process and Dask boundaries
    intact (pickled by its arguments)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message}


class AnalysisTimeout(AnalysisError):
    """The job ran longer than its time limit; its outstanding chunks were cancelled."""


class AnalysisCancelled(Exception):
    """The job was cancelled (its ``cancel`` event was set); its outstanding chunks stopped."""
