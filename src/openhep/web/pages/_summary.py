"""What a page shows of a record in a list (search results, the home page's latest) and its
description as plain text (a record page's summary too)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from openhep.model import RecordData
from openhep.web.pages._math import math_text

DESCRIPTION_LENGTH = 280
_TAG = re.compile(r"<[^>]*>?")
_SPACE = re.compile(r"\s+")


def plain_text(markup: str, limit: int = DESCRIPTION_LENGTH) -> str:
    """Record descriptions are HTML: their text, tags dropped, entities read and formulas as
    Unicode text, cut at a word before ``limit`` characters (the template escapes it again)."""
    return _plain_text(markup[: limit * 8], limit)


@lru_cache(maxsize=2048)
def _plain_text(markup: str, limit: int) -> str:
    # A pure function of the (bounded) start of a description: the same records come back
    # page after page, and a changed description is another key.
    text = _SPACE.sub(" ", math_text(html.unescape(_TAG.sub(" ", markup)))).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,;:.") + "…"


def hit_summary(recid: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """What a result shows of a record: title, badges, a short description, events, size."""
    record = RecordData.of(metadata)
    size = record.distribution.size
    if size is None and record.files:
        size = sum(file.size for file in record.files) or None
    return {
        "recid": recid,
        "title": record.title or f"Record {recid}",
        "type": record.type.primary,
        "subtypes": list(record.type.secondary),
        "experiments": list(record.experiments),
        "description": plain_text(record.description),
        "number_events": record.distribution.number_events,
        "size": size,
        "published": record.date_published,
    }
