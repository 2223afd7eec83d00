"""What a page shows of a record in a list (search results, the home page's latest) and its
description as plain text (a record page's summary too)."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

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


def hit_summary(recid: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """What a result shows of a record: title, badges, a short description, events, size."""
    kind = metadata.get("type") or {}
    distribution = metadata.get("distribution") or {}
    size = distribution.get("size")
    if size is None and metadata.get("files"):
        size = sum(int(f.get("size") or 0) for f in metadata["files"]) or None
    events = distribution.get("number_events")
    return {
        "recid": recid,
        "title": metadata.get("title") or f"Record {recid}",
        "type": kind.get("primary"),
        "subtypes": list(kind.get("secondary") or []),
        "experiments": list(metadata.get("experiment") or []),
        "description": plain_text((metadata.get("abstract") or {}).get("description") or ""),
        "number_events": events if isinstance(events, int) else None,
        "size": size if isinstance(size, int) else None,
        "published": metadata.get("date_published"),
    }
