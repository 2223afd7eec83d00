"""The tolerant reader of iSpy event text: JSON as CMSSW's iSpy writes it, which is not always
JSON (bare ``nan``/``inf``, and in older files Python tuples, single quotes, ``True``/``None``
and trailing commas) → Python values. Never ``eval``.

How: the text is rewritten so that only the tokens JSON does not know change (nothing inside
a string in double quotes), then the C JSON decoder parses it. Two rewrites:

* the common case (CMSSW's files: JSON but for bare ``nan``/``inf``, no escaped quote, no
  single quote or parenthesis anywhere): a literal search for ``nan``/``inf`` with a running
  count of quotes to skip those inside strings — 4 ms on the 0.9 MB Hto4l event, the JSON
  decoding after it 10 ms;
* everything else: one regular-expression pass over every token JSON does not know (tuples,
  single quotes, ``True``/``None``, trailing commas, any spelling of NaN and infinity) —
  80 ms on the same event, which is why it is not the only one. A text the first rewrite
  leaves unparsable is given to the second before it is called malformed.

A tokenizer written in Python would be ~20x slower still. Both rewrites keep the offsets they
shifted, so an error points at the line and column of the original text."""

from __future__ import annotations

import bisect
import json
import re
from typing import Any

from openhep.events._errors import EventFileError

_TOKENS = re.compile(
    r"""
    (?P<dq>"(?:[^"\\\n]|\\.)*")                          # JSON string: kept as it is
  | (?P<sq>'(?:[^'\\\n]|\\.)*')                          # Python string in single quotes
  | (?<![\w.])(?P<nf>[-+]?(?:nan|NaN|NAN|inf|Inf|INF|infinity|Infinity)) (?![\w.])
  | (?<![\w.])(?P<py>True|False|None)(?![\w.])           # Python constants
  | (?P<open>\()|(?P<close>\))                           # Python tuples
  | (?P<comma>,)(?=\s*[)\]}])                            # a trailing comma: (1,) [1, 2,]
    """,
    re.VERBOSE,
)
#: A bare NaN or infinity as C++ streams and Python's repr write them (the common case).
_NON_FINITE = re.compile(r"nan|inf(?:inity)?")
#: Characters that make ``nan``/``inf`` part of a longer word or number when next to it.
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")
#: Signs of the old style: any of them sends a text to the full rewrite (searched one by
#: one: a literal search is 1000x faster than one pattern of alternatives, 33 ms on 0.9 MB).
_OLD_STYLE_CHARACTERS = ("'", "(", ")", "\\")
_OLD_STYLE_WORDS = re.compile(r"True|False|None")
_TRAILING_COMMA = re.compile(r",\s*[\]}]")
_PYTHON_CONSTANTS = {"True": "true", "False": "false", "None": "null"}
_SINGLE_QUOTED_ESCAPES = re.compile(r"""\\(.)|(")""", re.DOTALL)


def _null(_constant: str) -> None:
    """JSON's own NaN/Infinity, and what the pass made of ``nan``/``inf``: not a value."""
    return None


def _double_quoted(body: str) -> str:
    """A single-quoted string's body as the body of a JSON string: ``\\'`` is a plain
    quote there and a bare ``"`` needs its backslash; other escapes JSON checks itself."""

    def one(match: re.Match[str]) -> str:
        if match.group(2) is not None:
            return '\\"'
        return "'" if match.group(1) == "'" else match.group(0)

    return '"' + _SINGLE_QUOTED_ESCAPES.sub(one, body) + '"'


def _rewrite_common(text: str) -> tuple[str, list[int], list[int]] | None:
    """The common case's rewrite (see the module's docstring), or None when the text shows
    a sign of the old style (or an escape, which would upset the count of quotes)."""
    if any(c in text for c in _OLD_STYLE_CHARACTERS):
        return None
    if _OLD_STYLE_WORDS.search(text) or _TRAILING_COMMA.search(text):
        return None
    parts: list[str] = []
    ends: list[int] = []
    shifts: list[int] = []
    last = quotes = counted = shift = 0
    for match in _NON_FINITE.finditer(text):
        start, end = match.span()
        quotes += text.count('"', counted, start)
        counted = start
        if quotes & 1 or (end < len(text) and text[end] in _WORD):
            continue  # inside a string, or the start of a longer word
        if start > 0 and text[start - 1] in "+-":
            start -= 1
        if start > 0 and text[start - 1] in _WORD:
            continue
        parts.append(text[last:start])
        parts.append("NaN")
        last = end
        if end - start != 3:
            shift += 3 - (end - start)
            ends.append(end + shift)
            shifts.append(shift)
    if not parts:
        return text, ends, shifts
    parts.append(text[last:])
    return "".join(parts), ends, shifts


def _rewrite(text: str) -> tuple[str, list[int], list[int]]:
    """The text with every non-JSON token made JSON; the offsets (in the new text) after
    each replacement that changed the length, and the shift there (new minus old)."""
    parts: list[str] = []
    ends: list[int] = []
    shifts: list[int] = []
    last = 0
    shift = 0
    for match in _TOKENS.finditer(text):
        kind = match.lastgroup
        if kind == "dq":
            continue
        token = match.group()
        if kind == "sq":
            new = _double_quoted(token[1:-1])
        elif kind == "nf":
            new = "NaN"
        elif kind == "py":
            new = _PYTHON_CONSTANTS[token]
        elif kind == "open":
            new = "["
        elif kind == "close":
            new = "]"
        else:  # a trailing comma
            new = " "
        parts.append(text[last : match.start()])
        parts.append(new)
        last = match.end()
        if len(new) != len(token):
            shift += len(new) - len(token)
            ends.append(match.end() + shift)
            shifts.append(shift)
    if not parts:
        return text, ends, shifts
    parts.append(text[last:])
    return "".join(parts), ends, shifts


def _decode(text: str) -> Any:
    return json.loads(text, parse_constant=_null)


def _where(text: str, offset: int) -> str:
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def parse_text(data: bytes, where: str) -> Any:
    """The value the iSpy text ``data`` holds; anything else → EventFileError naming
    ``where`` (the file and entry) and the line and column."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventFileError(
            f"{where}: not UTF-8 text ({_where(data.decode('latin-1'), exc.start)}:"
            f" byte 0x{data[exc.start]:02x})"
        ) from None
    common = _rewrite_common(text)
    if common is not None:
        try:
            return _decode(common[0])
        except (ValueError, RecursionError):
            pass  # given to the full rewrite, which says what is wrong
    rewritten, ends, shifts = _rewrite(text)
    try:
        return _decode(rewritten)
    except json.JSONDecodeError as exc:
        at = bisect.bisect_right(ends, exc.pos)
        original = exc.pos - (shifts[at - 1] if at else 0)
        raise EventFileError(
            f"{where}: not iSpy JSON at {_where(text, original)}: {exc.msg}"
        ) from None
    except RecursionError:
        raise EventFileError(f"{where}: lists or objects nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise EventFileError(f"{where}: not iSpy JSON: {str(exc)[:200]}") from None
