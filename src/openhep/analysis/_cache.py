"""The result cache: answers keyed by content (the files' checksums and the canonical
request), kept as JSON files in a directory, written atomically, bounded in size."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openhep.analysis._request import HistogramRequest

#: Bumped whenever a result for the same files and request would come out differently
#: (binning rules, what "skipped" counts, the expression language's meaning): old entries
#: are then never found again, and age out.
ANALYSIS_FORMAT_VERSION = 1
#: The cache's default bound: bytes of answers kept, oldest used dropped first.
DEFAULT_MAX_BYTES = 256 << 20
#: Answers larger than this are not kept (10,000 bins are ~ 0.5 MB of JSON).
MAX_ENTRY_BYTES = 4 << 20

_KEY = re.compile(r"^[0-9a-f]{64}$")
_SUFFIX = ".json"


def cache_key(checksums: Sequence[str], request: HistogramRequest) -> str:
    """sha256 of the canonical JSON of the files' checksums (sorted: the sum over files does
    not depend on their order), the request and ANALYSIS_FORMAT_VERSION."""
    if isinstance(checksums, str):
        raise TypeError("checksums: give a sequence of checksum strings, not one string")
    document = {
        "format": ANALYSIS_FORMAT_VERSION,
        "checksums": sorted(str(c) for c in checksums),
        "request": request.to_json(),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class ResultCache:
    """A directory of ``<key>.json`` answers. ``get`` marks an entry used (its mtime);
    ``put`` writes a temporary file and renames it into place (a reader never sees half an
    answer; concurrent writers of one key both write the same bytes), then drops the least
    recently used entries beyond ``max_bytes``. The cache is derived: deleting the directory
    at any time loses nothing but time."""

    def __init__(self, directory: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes: give a number of bytes, 0 or more")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def _path(self, key: str) -> Path:
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValueError("a cache key is 64 lowercase hex digits (cache_key gives one)")
        return self.directory / f"{key}{_SUFFIX}"

    def get(self, key: str) -> dict[str, Any] | None:
        """The answer kept under ``key``, or None (never kept, dropped, or unreadable)."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            value = json.loads(data)
        except ValueError:
            with contextlib.suppress(OSError):
                path.unlink()  # damaged (a disk error): drop it, the next run writes it again
            return None
        if not isinstance(value, dict):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: the last to be dropped
        return value

    def put(self, key: str, value: dict[str, Any]) -> bool:
        """Keep ``value`` (JSON-serialisable) under ``key``; False if it is too large to keep
        or the directory cannot be written (the cache is an optimisation, never an error)."""
        path = self._path(key)
        data = json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")
        if len(data) > min(MAX_ENTRY_BYTES, self.max_bytes):
            return False
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=_SUFFIX, dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                Path(temporary).replace(path)
            except BaseException:
                with contextlib.suppress(OSError):
                    Path(temporary).unlink()
                raise
        except OSError:
            return False
        self._trim(keep=path)
        return True

    def _trim(self, keep: Path) -> None:
        with self._lock:
            entries: list[tuple[float, int, Path]] = []
            total = 0
            with contextlib.suppress(OSError):
                for path in self.directory.iterdir():
                    try:
                        stat = path.stat()
                    except OSError:
                        continue
                    if path.name.startswith(".tmp-"):
                        if stat.st_mtime < time.time() - 3600:  # left by a crashed writer
                            with contextlib.suppress(OSError):
                                path.unlink()
                        continue
                    if path.suffix != _SUFFIX:
                        continue
                    entries.append((stat.st_mtime, stat.st_size, path))
                    total += stat.st_size
            for _, size, path in sorted(entries, key=lambda e: (e[0], e[2].name)):
                if total <= self.max_bytes:
                    break
                if path == keep:
                    continue
                with contextlib.suppress(OSError):
                    path.unlink()
                    total -= size

    def clear(self) -> None:
        """Drop every kept answer."""
        with contextlib.suppress(OSError):
            for path in self.directory.iterdir():
                if path.suffix == _SUFFIX:
                    with contextlib.suppress(OSError):
                        path.unlink()

    def size(self) -> int:
        """Bytes of answers kept."""
        total = 0
        with contextlib.suppress(OSError):
            for path in self.directory.iterdir():
                if path.suffix == _SUFFIX and not path.name.startswith(".tmp-"):
                    with contextlib.suppress(OSError):
                        total += path.stat().st_size
        return total
