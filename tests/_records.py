"""Records built in code for the model tests: the smallest valid record, and what to add to it."""

from __future__ import annotations

from typing import Any


def minimal(**extra: Any) -> dict[str, Any]:
    """The smallest valid record (a derived CMS dataset), with ``extra`` fields added."""
    record: dict[str, Any] = {
        "recid": "900001",
        "title": "A test record",
        "type": {"primary": "Dataset", "secondary": ["Derived"]},
        "experiment": ["CMS"],
        "date_published": "2024",
        "publisher": "CERN Open Data Portal",
    }
    record.update(extra)
    return record
