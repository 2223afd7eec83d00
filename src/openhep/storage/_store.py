"""One store interface, two backends: a local directory (default) and an XRootD server.

Backends speak store paths (:func:`openhep.storage.store_path`); writes are atomic (bytes go
to ``.partial/<name>`` first, are synced, then renamed into place), and digests are computed
while the bytes stream through, so a file is read once. A partial write's name starts with a
digest of the path it is for (:func:`partial_name`), so that the partial writes of a path a
killed writer journaled can be found and removed (``_orphans``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from openhep.storage._checksum import Digester, Digests
from openhep.storage._paths import UnsafePathError, store_path

#: Where writes land before their rename; never listed, never served.
PARTIAL_DIR = ".partial"
#: Read and write in chunks of this many bytes (constant memory, large enough for throughput).
CHUNK_SIZE = 1 << 20


#: A partial write's name: the digest of its path and a unique part (or, written before the
#: digest was added, the unique part alone). Anything else in ``.partial/`` is not a write.
_PARTIAL_NAME = re.compile(r"^[0-9a-f]{32}(?:\.[0-9a-f]{32})?$")


def partial_stem(path: str) -> str:
    """What the names of the partial writes of store path ``path`` start with."""
    return hashlib.sha256(path.encode()).hexdigest()[:32]


def partial_name(path: str) -> str:
    """A new, unique name for a partial write of ``path`` (see :func:`partial_stem`)."""
    return f"{partial_stem(path)}.{uuid.uuid4().hex}"


def partial_of(name: str) -> str | None:
    """The :func:`partial_stem` of a partial write named ``name`` (None: not one, or written
    before names carried it)."""
    if not _PARTIAL_NAME.match(name):
        return None
    return name.split(".", 1)[0] if "." in name else None


def checked_partial(name: str) -> str:
    """``.partial/<name>`` (or ``<name>``) checked as a partial write's name; its bare name."""
    bare = name.removeprefix(PARTIAL_DIR + "/")
    if not _PARTIAL_NAME.match(bare):
        raise UnsafePathError(f"{name!r} is not a partial write")
    return bare


class FileTooLargeError(ValueError):
    """A write that went over its ``max_bytes`` bound (nothing was stored)."""


class StoreUnavailableError(ConnectionError):
    """The store's server cannot be reached (or did not answer in time)."""


def checked_path(path: str) -> str:
    """``path`` as a store path (:func:`store_path`) outside the reserved partial-write area."""
    checked = store_path(path)
    if checked.split("/", 1)[0] == PARTIAL_DIR:
        raise UnsafePathError(f"{path!r}: {PARTIAL_DIR}/ is reserved for writes in progress")
    return checked


@dataclass(frozen=True, slots=True)
class StoredObject:
    """A file as a store holds it."""

    path: str
    size: int
    mtime: datetime


@runtime_checkable
class Store(Protocol):
    """What every backend offers. Paths are store paths; a missing file is FileNotFoundError."""

    url: str

    def stat(self, path: str) -> StoredObject | None: ...

    def open(self, path: str) -> BinaryIO:
        """A seekable binary reader of the file at ``path``."""
        ...

    def write(
        self, path: str, chunks: Iterable[bytes], *, max_bytes: int | None = None
    ) -> tuple[StoredObject, Digests]:
        """Store ``chunks`` at ``path`` atomically; the file appears whole or not at all."""
        ...

    def remove(self, path: str) -> None: ...

    def walk(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every file under ``prefix`` (never the partial writes)."""
        ...

    def local_path(self, path: str) -> Path | None:
        """A path on this machine's file system holding the file, if the backend has one."""
        ...

    def remove_partial(self, older_than_seconds: float = 3600.0) -> int:
        """Delete partial writes left by killed writers; returns how many."""
        ...

    def partials(self, path: str | None = None) -> list[StoredObject]:
        """The partial writes (of store path ``path``, or all): bytes a writer is sending, or
        that a killed writer left. Each is named ``.partial/<name>``."""
        ...

    def discard_partial(self, name: str) -> None:
        """Remove the partial write ``.partial/<name>`` that :meth:`partials` listed."""
        ...

    def close(self) -> None: ...


def mtime_of(seconds: float) -> datetime:
    """A modification time as the stores report it: whole seconds, UTC."""
    return datetime.fromtimestamp(int(seconds), UTC)


class LocalStore:
    """Files in a directory of this machine. Symlinks leading out of it are refused."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._real_root = Path(os.path.realpath(self.root))
        self.url = self._real_root.as_uri()

    def _resolve(self, path: str) -> Path:
        full = self._real_root / checked_path(path)
        real = Path(os.path.realpath(full))
        if real != full and not self._inside(real):
            raise UnsafePathError(f"{path!r} leads out of the store")
        return real

    def _inside(self, real: Path) -> bool:
        if not real.is_relative_to(self._real_root) or real == self._real_root:
            return False
        return real.relative_to(self._real_root).parts[0] != PARTIAL_DIR

    def stat(self, path: str) -> StoredObject | None:
        full = self._resolve(path)
        try:
            st = full.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not full.is_file():
            return None
        return StoredObject(path, st.st_size, mtime_of(st.st_mtime))

    def open(self, path: str) -> BinaryIO:
        full = self._resolve(path)
        if not full.is_file():
            raise FileNotFoundError(path)
        return full.open("rb")

    def write(
        self, path: str, chunks: Iterable[bytes], *, max_bytes: int | None = None
    ) -> tuple[StoredObject, Digests]:
        final = self._resolve(path)
        partial_dir = self._real_root / PARTIAL_DIR
        partial_dir.mkdir(exist_ok=True)
        temp = partial_dir / partial_name(checked_path(path))
        digester = Digester()
        try:
            with temp.open("xb") as out:
                for chunk in chunks:
                    digester.update(chunk)
                    if max_bytes is not None and digester.size > max_bytes:
                        raise FileTooLargeError(f"more than {max_bytes} bytes")
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
                st = os.fstat(out.fileno())
            final.parent.mkdir(parents=True, exist_ok=True)
            temp.replace(final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)
        # The file as it landed (a rename keeps the mtime), whatever another writer put there since.
        return StoredObject(path, st.st_size, mtime_of(st.st_mtime)), digester.digests()

    def remove(self, path: str) -> None:
        self._resolve(path).unlink()

    def walk(self, prefix: str = "") -> Iterator[StoredObject]:
        top = self._resolve(prefix) if prefix else self._real_root
        for dirpath, dirnames, filenames in os.walk(top):
            here = Path(dirpath)
            if here == self._real_root:
                dirnames[:] = [d for d in dirnames if d != PARTIAL_DIR]
            dirnames.sort()
            for name in sorted(filenames):
                full = here / name
                if full.is_symlink() and not self._inside(Path(os.path.realpath(full))):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    st = full.stat()
                    yield StoredObject(
                        full.relative_to(self._real_root).as_posix(),
                        st.st_size,
                        mtime_of(st.st_mtime),
                    )

    def local_path(self, path: str) -> Path | None:
        return self._resolve(path)

    def remove_partial(self, older_than_seconds: float = 3600.0) -> int:
        partial_dir = self._real_root / PARTIAL_DIR
        if not partial_dir.is_dir():
            return 0
        cutoff = datetime.now(UTC).timestamp() - older_than_seconds
        removed = 0
        for temp in partial_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if temp.stat().st_mtime <= cutoff:
                    temp.unlink()
                    removed += 1
        return removed

    def partials(self, path: str | None = None) -> list[StoredObject]:
        partial_dir = self._real_root / PARTIAL_DIR
        stem = partial_stem(checked_path(path)) if path is not None else None
        found: list[StoredObject] = []
        with contextlib.suppress(FileNotFoundError):
            for temp in sorted(partial_dir.iterdir()):
                name = temp.name
                if not _PARTIAL_NAME.match(name) or (stem and partial_of(name) != stem):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    st = temp.lstat()
                    found.append(
                        StoredObject(f"{PARTIAL_DIR}/{name}", st.st_size, mtime_of(st.st_mtime))
                    )
        return found

    def discard_partial(self, name: str) -> None:
        (self._real_root / PARTIAL_DIR / checked_partial(name)).unlink()

    def close(self) -> None:
        pass


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_chunks(reader: BinaryIO, start: int = 0, length: int | None = None) -> Iterator[bytes]:
    """``length`` bytes (all to the end if None) of ``reader`` from ``start``, in chunks."""
    reader.seek(start)
    left = length
    while left is None or left > 0:
        chunk = reader.read(CHUNK_SIZE if left is None else min(CHUNK_SIZE, left))
        if not chunk:
            break
        if left is not None:
            left -= len(chunk)
        yield chunk
