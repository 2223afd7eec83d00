"""Reading a request's query string strictly: every percent-encoded parameter must be UTF-8.

Starlette decodes query strings leniently (bytes that are not UTF-8 become U+FFFD), so a
mistyped or hostile ``q=%FF`` would quietly search for a replacement character and find
nothing. The handlers that read parameters ask this module first and answer 400 instead.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from fastapi import Request
from starlette.datastructures import QueryParams

# Only escapes of bytes 0x80-0xFF, or raw bytes beyond ASCII, can be bad UTF-8.
_HIGH_ESCAPE = re.compile(rb"%[89A-Fa-f][0-9A-Fa-f]")


class QueryStringError(ValueError):
    """A query string that cannot be read as text; the message says which parameter."""


def _text(raw: bytes) -> str:
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")


def _where(exc: UnicodeDecodeError, what: str) -> str:
    bad = "".join(f"%{b:02X}" for b in exc.object[exc.start : exc.end])
    return f"byte {exc.start + 1} of the {what} ({bad})"


def strict_query_params(request: Request) -> QueryParams:
    """``request.query_params``, after checking that every name and value is UTF-8 once
    percent-decoded (:class:`QueryStringError` names the first one that is not)."""
    raw: bytes = request.scope.get("query_string", b"")
    if raw.isascii() and not _HIGH_ESCAPE.search(raw):
        return request.query_params
    for pair in raw.split(b"&"):
        name, _, value = pair.partition(b"=")
        try:
            label = _text(name)
        except UnicodeDecodeError as exc:
            raise QueryStringError(
                f"a parameter name is not valid UTF-8 at {_where(exc, 'name')}: percent-encode "
                "names and values as UTF-8 (é is %C3%A9)"
            ) from None
        try:
            _text(value)
        except UnicodeDecodeError as exc:
            raise QueryStringError(
                f"{label[:100]}: not valid UTF-8 at {_where(exc, 'value')}: "
                "percent-encode the text as UTF-8 (é is %C3%A9)"
            ) from None
    return request.query_params
