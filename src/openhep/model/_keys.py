"""What a file key may be: the one rule for the name a file has in its record.

A key is shown on record pages, in download links and file lists, written into URLs and store
paths, and saved under that name by clients: so it is one printable name, spelled one way.
Every way a key comes in (a record's ``files[].key``, the upload route, ``openhep files add``,
publishing, the files a file index lists) checks it here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from posixpath import basename
from typing import Any

#: Longest key, in bytes of UTF-8 (what file systems allow for one name).
MAX_KEY_BYTES = 255
#: Bidirectional controls: they make a name display as another (``evil\u202eexe.root`` shows
#: as ``evil`` + ``toor.exe``). The embeddings and overrides, the isolates and the marks.
BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c"]
)


# One search finds any refused character (a record page's files are checked one by one):
# white space (a file's URI has none), path separators, C0 and C1 controls, bidi controls and
# surrogates.
_REFUSED = re.compile(
    r"[\s/\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


class FileKeyError(ValueError):
    """A file key that cannot be used; the message says what to change."""


def _shown(key: str) -> str:
    # The key as the message shows it: anything invisible or reordering written as an escape,
    # so the message itself cannot be turned around on the reader's screen.
    out = []
    for ch in key[:80]:
        if ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "'" + "".join(out) + ("…'" if len(key) > 80 else "'")


def check_file_key(key: str) -> str:
    """``key`` if it can name a file in a record; :class:`FileKeyError` says why not.

    A key is one name (no ``/`` or ``\\``, not ``.`` or ``..``), of 1 to 255 bytes of UTF-8,
    without white space, control characters or bidirectional controls (U+202A to U+202E,
    U+2066 to U+2069, U+200E, U+200F, U+061C), written in Unicode NFC.
    """
    if not key:
        raise FileKeyError("a file key cannot be empty: give the file a name")
    found = _REFUSED.search(key)
    if found is not None:
        position, ch = found.start(), found.group()
        if ch in "/\\":
            raise FileKeyError(
                f"key {_shown(key)}: a key is one name, without '/' or '\\' (character "
                f"{position}): rename the file, or list a folder's files with a file index"
            )
        if ch in BIDI_CONTROLS:
            what = (
                f"{unicodedata.name(ch)}, a bidirectional control that makes a name display "
                "as another"
            )
        elif "\ud800" <= ch <= "\udfff":
            what = "a lone surrogate, not valid Unicode"
        elif unicodedata.category(ch) == "Cc":
            what = "a control character"
        else:
            raise FileKeyError(
                f"key {_shown(key)}: character {position} is a space (U+{ord(ch):04X}): a file "
                "key has no spaces, as its URI has none; write '_' or '-' instead"
            )
        raise FileKeyError(
            f"key {_shown(key)}: character {position} is U+{ord(ch):04X}, {what}: remove it"
        )
    if key in (".", ".."):
        raise FileKeyError(f"key {_shown(key)}: '.' and '..' name folders: give the file a name")
    size = len(key.encode())
    if size > MAX_KEY_BYTES:
        raise FileKeyError(
            f"key {_shown(key)}: {size} bytes of UTF-8, the limit is {MAX_KEY_BYTES}: shorten it"
        )
    if not key.isascii():
        composed = unicodedata.normalize("NFC", key)
        if composed != key:
            # Both spellings look alike on screen: the message names the code points.
            pairs = zip(key, composed, strict=False)
            at = next((i for i, (a, b) in enumerate(pairs) if a != b), 0)
            ours, theirs = (
                f"U+{ord(t[at]):04X}" if at < len(t) else "nothing" for t in (key, composed)
            )
            raise FileKeyError(
                f"key {_shown(key)}: not in Unicode's composed form (NFC) from character {at} "
                f"({ours} where NFC has {theirs}): write the name in NFC, each accented letter "
                "one character"
            )
    return key


def file_key(file: Mapping[str, Any]) -> str:
    """The name a file is known by in its record: its ``key``, else the last part of its URI."""
    return str(file.get("key") or basename(str(file["uri"])))
