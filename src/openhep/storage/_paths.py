"""Store paths and the rules that map a record file's URI to one.

A store path is relative, ``/``-separated and safe: no ``..``, no empty or dot segments, no
backslashes or control characters. Everything user-controlled (URL paths, keys, URIs) goes
through :func:`store_path` before it reaches a backend.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from openhep.model import FileKeyError, check_file_key

#: Longest store path accepted (XRootD and most file systems allow 4,096 bytes).
MAX_PATH_LENGTH = 1024
#: Longest single name (file systems allow 255 bytes).
MAX_NAME_LENGTH = 255
# One regex search rather than a loop per character: a record page checks every file's path.
_UNSAFE_CHARACTER = re.compile(r"[\x00-\x1f\\\x7f]")


class UnsafePathError(ValueError):
    """A path that could leave the store or that no backend can hold."""


def store_path(path: str) -> str:
    """``path`` checked and normalised to a store path; :class:`UnsafePathError` otherwise."""
    if not path or len(path) > MAX_PATH_LENGTH:
        raise UnsafePathError(f"a store path has 1 to {MAX_PATH_LENGTH} characters")
    if _UNSAFE_CHARACTER.search(path):
        raise UnsafePathError("a store path has no backslashes or control characters")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise UnsafePathError(
                f"{path!r}: a store path is relative with no empty, '.' or '..' parts"
            )
        if len(part.encode()) > MAX_NAME_LENGTH:
            raise UnsafePathError(f"a name in a store path has at most {MAX_NAME_LENGTH} bytes")
    return path


def file_name(name: str) -> str:
    """``name`` checked as a record file's key (the model's one rule for keys)."""
    try:
        return store_path(check_file_key(name))
    except FileKeyError as exc:
        raise UnsafePathError(str(exc)) from None


#: Where files added to records are stored: ``<prefix>/<recid>/<upload id>/<key>``. This
#: instance owns what is under it: a file there that nothing names is an orphan (``_orphans``).
ADDED_FILES_PREFIX = "eos/opendata/openhep"

#: Default prefix rules: CODP's public EOS namespace lives under ``eos/opendata/`` in the store.
DEFAULT_PREFIXES: tuple[tuple[str, str], ...] = (
    ("root://eospublic.cern.ch//eos/opendata/", "eos/opendata/"),
)


@dataclass(frozen=True)
class PrefixRules:
    """Ordered ``uri prefix -> store path prefix`` rules; the longest matching URI prefix wins."""

    rules: tuple[tuple[str, str], ...] = DEFAULT_PREFIXES

    @classmethod
    def parse(cls, text: str | None) -> PrefixRules:
        """Rules from ``OPENHEP_STORAGE_PREFIXES``: ``uri=path`` pairs separated by commas."""
        if not text:
            return cls()
        rules: list[tuple[str, str]] = []
        for item in text.split(","):
            uri, sep, path = item.strip().partition("=")
            if not sep or not uri:
                raise ValueError(
                    f"OPENHEP_STORAGE_PREFIXES: {item!r} is not 'uri-prefix=store-prefix'"
                )
            if path:
                store_path(path.rstrip("/"))
            rules.append((uri, path))
        return cls(tuple(rules))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str] | Sequence[tuple[str, str]]) -> PrefixRules:
        items = mapping.items() if isinstance(mapping, Mapping) else mapping
        return cls(tuple(items))

    def to_store_path(self, uri: str) -> str | None:
        """The store path of ``uri``, or None when no rule maps it (a remote file)."""
        best: tuple[str, str] | None = None
        for prefix, target in self.rules:
            if uri.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, target)
        if best is None:
            return None
        try:
            return store_path(best[1] + uri[len(best[0]) :])
        except UnsafePathError:
            return None

    def to_uri(self, path: str) -> str | None:
        """The URI a file at store path ``path`` is published under (the first rule that fits)."""
        for prefix, target in self.rules:
            if path.startswith(target):
                return prefix + path[len(target) :]
        return None
