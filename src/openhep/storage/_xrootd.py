"""The XRootD backend: files on an XRootD server (the protocol of CERN's EOS).

Reads go through fsspec-xrootd (a buffered, seekable file object, the one uproot and the
analysis layer use too). Namespace operations and writes use the XRootD client bindings
directly: they give the server's error codes (so a missing file is FileNotFoundError), and
fsspec-xrootd has no ``sync`` (fsync on the server) nor an exclusive create of missing parents.

A write goes to ``<root>/.partial/<name>`` (created exclusively, its parents made), is synced
on the server, closed, and then moved into place with the server's ``mv`` (a rename there),
so readers never see a partial file.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, NoReturn, cast

from fsspec_xrootd import XRootDFileSystem
from XRootD import client
from XRootD.client.flags import AccessMode, DirListFlags, OpenFlags, StatInfoFlags

from openhep.storage._checksum import Digester, Digests
from openhep.storage._store import (
    CHUNK_SIZE,
    PARTIAL_DIR,
    FileTooLargeError,
    StoredObject,
    StoreUnavailableError,
    checked_partial,
    checked_path,
    mtime_of,
    partial_name,
    partial_of,
    partial_stem,
)

#: Seconds an XRootD request may take before it fails (the client checks every 15 s by default).
DEFAULT_TIMEOUT = 60
#: Seconds to wait for the server's TCP port when the store is opened.
CONNECT_TIMEOUT = 5.0
#: Writes are sent in pieces of at least this many bytes (fewer round trips for small chunks).
WRITE_PIECE = 4 * CHUNK_SIZE
#: Read-ahead of the readers fsspec-xrootd opens.
READ_BLOCK = 4 * CHUNK_SIZE

# XRootD client status codes (XrdClStatus.hh): 1xx are socket and connection errors, 206 an
# operation that expired, 400 an error the server answered with (its kXR code in ``errno``).
_ERR_OPERATION_EXPIRED = 206
_ERR_ERROR_RESPONSE = 400
# Server error numbers (XProtocol.hh) that have a Python exception of their own.
_KXR_EXCEPTIONS: dict[int, type[OSError]] = {
    3010: PermissionError,  # kXR_NotAuthorized
    3011: FileNotFoundError,  # kXR_NotFound
    3016: IsADirectoryError,  # kXR_isDirectory
    3018: FileExistsError,  # kXR_ItExists
}
_FILE_MODE = AccessMode.UR | AccessMode.UW | AccessMode.GR | AccessMode.OR


def split_url(url: str) -> tuple[str, str]:
    """``root://host[:port]//abs/path`` → (``host[:port]``, ``/abs/path`` without trailing /)."""
    if not url.startswith("root://"):
        raise ValueError(f"{url!r}: an XRootD store URL starts with root://")
    hostid, sep, path = url.removeprefix("root://").partition("/")
    if not hostid or not sep or not path.startswith("/"):
        raise ValueError(
            f"{url!r}: write an XRootD store URL as root://host[:port]//absolute/path "
            "(two slashes before the path)"
        )
    if any(part in (".", "..") for part in path.split("/")):
        raise ValueError(f"{url!r}: the store's root path has no '.' or '..' parts")
    return hostid, "/" + path.strip("/") if path.strip("/") else ""


class XRootDStore:
    """Files under one directory of an XRootD server: ``root://host[:port]//abs/path``."""

    def __init__(
        self,
        url: str,
        *,
        timeout: int = DEFAULT_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        hostid, self._root = split_url(url)
        self.url = f"root://{hostid}/{self._root or '/'}"
        self._hostid = hostid
        self._timeout = timeout
        parsed = client.URL(f"root://{hostid}")
        if not parsed.is_valid():
            raise ValueError(f"{url!r}: {hostid!r} is not a valid XRootD host[:port]")
        self._check_reachable(str(parsed.hostname), int(parsed.port), connect_timeout)
        self._client = client.FileSystem(f"root://{hostid}")
        self._fs = XRootDFileSystem(
            hostid=hostid,
            timeout=timeout,
            locate_all_sources=False,
            use_listings_cache=False,
            skip_instance_cache=True,
        )

    # -- the Store protocol ----------------------------------------------------------------

    def stat(self, path: str) -> StoredObject | None:
        status, info = self._client.stat(self._full(path), timeout=self._timeout)
        if not status.ok:
            if _not_found(status):
                return None
            self._fail(status, "stat", path)
        if info.flags & (StatInfoFlags.IS_DIR | StatInfoFlags.OTHER):
            return None
        return StoredObject(path, int(info.size), mtime_of(info.modtime))

    def open(self, path: str) -> BinaryIO:
        full = self._full(path)
        try:
            reader = self._fs.open(full, "rb", block_size=READ_BLOCK)
        except OSError:
            if self.stat(path) is None:
                raise FileNotFoundError(path) from None
            raise
        return cast(BinaryIO, reader)

    def write(
        self, path: str, chunks: Iterable[bytes], *, max_bytes: int | None = None
    ) -> tuple[StoredObject, Digests]:
        final = self._full(path)
        temp = f"{self._root}/{PARTIAL_DIR}/{partial_name(checked_path(path))}"
        out = client.File()
        status, _ = out.open(
            f"root://{self._hostid}/{temp}",
            OpenFlags.NEW | OpenFlags.MAKEPATH,
            _FILE_MODE,
            timeout=self._timeout,
        )
        if not status.ok:
            self._fail(status, "create", temp)
        digester = Digester()
        try:
            offset = 0
            piece = bytearray()
            for chunk in chunks:
                digester.update(chunk)
                if max_bytes is not None and digester.size > max_bytes:
                    raise FileTooLargeError(f"more than {max_bytes} bytes")
                piece += chunk
                if len(piece) >= WRITE_PIECE:
                    offset = self._write_piece(out, piece, offset, path)
            if piece:
                offset = self._write_piece(out, piece, offset, path)
            self._check(out.sync(timeout=self._timeout)[0], "sync", path)
            self._check(out.close(timeout=self._timeout)[0], "close", path)
            status, info = self._client.stat(temp, timeout=self._timeout)
            self._check(status, "stat", temp)
            if int(info.size) != digester.size:
                raise OSError(
                    f"{self.url}: the server holds {info.size} bytes of {path!r}, "
                    f"{digester.size} were sent"
                )
            self._check(self._client.mv(temp, final, timeout=self._timeout)[0], "move", path)
        except BaseException:
            self._discard(out, temp)
            raise
        # A rename keeps the mtime: this is the file as it landed, whatever another writer
        # may have put at ``path`` since.
        return StoredObject(path, digester.size, mtime_of(info.modtime)), digester.digests()

    def remove(self, path: str) -> None:
        status, _ = self._client.rm(self._full(path), timeout=self._timeout)
        if not status.ok:
            self._fail(status, "remove", path)

    def walk(self, prefix: str = "") -> Iterator[StoredObject]:
        if prefix:
            yield from self._walk(self._full(prefix), checked_path(prefix) + "/")
        else:
            yield from self._walk(self._root or "/", "", skip=PARTIAL_DIR)

    def local_path(self, path: str) -> None:
        checked_path(path)
        return None

    def remove_partial(self, older_than_seconds: float = 3600.0) -> int:
        partial = f"{self._root}/{PARTIAL_DIR}"
        entries = self._listing(partial)
        if not entries:
            return 0
        # The server's clock decides the age (its mtimes), so compare with the server's now.
        now = self._server_now(partial)
        removed = 0
        for name, info in entries:
            if info.flags & StatInfoFlags.IS_DIR or info.modtime > now - older_than_seconds:
                continue
            status, _ = self._client.rm(f"{partial}/{name}", timeout=self._timeout)
            if status.ok:
                removed += 1
            elif not _not_found(status):
                self._fail(status, "remove", f"{PARTIAL_DIR}/{name}")
        return removed

    def partials(self, path: str | None = None) -> list[StoredObject]:
        stem = partial_stem(checked_path(path)) if path is not None else None
        found: list[StoredObject] = []
        for name, info in sorted(self._listing(f"{self._root}/{PARTIAL_DIR}")):
            if info.flags & (StatInfoFlags.IS_DIR | StatInfoFlags.OTHER):
                continue
            try:
                checked_partial(name)
            except ValueError:
                continue  # not a write (the clock probe of remove_partial, say)
            if stem is None or partial_of(name) == stem:
                found.append(
                    StoredObject(f"{PARTIAL_DIR}/{name}", int(info.size), mtime_of(info.modtime))
                )
        return found

    def discard_partial(self, name: str) -> None:
        bare = checked_partial(name)
        status, _ = self._client.rm(f"{self._root}/{PARTIAL_DIR}/{bare}", timeout=self._timeout)
        if not status.ok:
            self._fail(status, "remove", f"{PARTIAL_DIR}/{bare}")

    def close(self) -> None:
        self._fs.invalidate_cache()

    def __repr__(self) -> str:
        return f"XRootDStore({self.url!r})"

    # -- helpers ---------------------------------------------------------------------------

    def _full(self, path: str) -> str:
        return f"{self._root}/{checked_path(path)}"

    def _write_piece(self, out: Any, piece: bytearray, offset: int, path: str) -> int:
        status, _ = out.write(bytes(piece), offset, len(piece), timeout=self._timeout)
        self._check(status, "write", path)
        offset += len(piece)
        piece.clear()
        return offset

    def _discard(self, out: Any, temp: str) -> None:
        # Best effort: the partial file is invisible anyway and remove_partial collects leftovers.
        if out.is_open():
            out.close(timeout=self._timeout)
        self._client.rm(temp, timeout=self._timeout)

    def _walk(self, directory: str, rel: str, skip: str | None = None) -> Iterator[StoredObject]:
        entries = self._listing(directory)
        subdirs: list[str] = []
        for name, info in sorted(entries, key=lambda entry: entry[0]):
            if info.flags & StatInfoFlags.IS_DIR:
                if name != skip:
                    subdirs.append(name)
            elif not info.flags & StatInfoFlags.OTHER:
                yield StoredObject(rel + name, int(info.size), mtime_of(info.modtime))
        for name in subdirs:
            yield from self._walk(f"{directory.rstrip('/')}/{name}", f"{rel}{name}/")

    def _listing(self, directory: str) -> list[tuple[str, Any]]:
        """(name, stat info) of a directory's entries; empty when it is missing or a file."""
        status, listing = self._client.dirlist(directory, DirListFlags.STAT, timeout=self._timeout)
        if not status.ok:
            if _not_found(status) or _not_a_directory(status):
                return []
            self._fail(status, "list", directory)
        return [(entry.name, entry.statinfo) for entry in listing]

    def _server_now(self, partial: str) -> float:
        probe = f"{partial}/now-{uuid.uuid4().hex}"
        clock = client.File()
        status, _ = clock.open(
            f"root://{self._hostid}/{probe}", OpenFlags.NEW, _FILE_MODE, timeout=self._timeout
        )
        self._check(status, "create", probe)
        clock.close(timeout=self._timeout)
        status, info = self._client.stat(probe, timeout=self._timeout)
        self._client.rm(probe, timeout=self._timeout)
        self._check(status, "stat", probe)
        return float(info.modtime)

    def _check_reachable(self, host: str, port: int, connect_timeout: float) -> None:
        try:
            socket.create_connection((host, port), timeout=connect_timeout).close()
        except OSError as exc:
            raise StoreUnavailableError(
                f"cannot reach the XRootD server of OPENHEP_STORAGE_URL={self.url} "
                f"({host}:{port}: {exc.strerror or exc}); start the server or fix the URL"
            ) from None

    def _check(self, status: Any, what: str, path: str) -> None:
        if not status.ok:
            self._fail(status, what, path)

    def _fail(self, status: Any, what: str, path: str) -> NoReturn:
        message = str(status.message).strip()
        code = int(status.code)
        if code == _ERR_ERROR_RESPONSE:
            exception = _KXR_EXCEPTIONS.get(int(status.errno), OSError)
            raise exception(f"{self.url}: {what} {path!r}: {message}")
        if 100 <= code < 200 or code == _ERR_OPERATION_EXPIRED:
            raise StoreUnavailableError(
                f"the XRootD server of {self.url} did not answer ({what} {path!r}: {message}); "
                f"check that it runs and is reachable (request timeout {self._timeout} s)"
            )
        raise OSError(f"{self.url}: {what} {path!r}: {message}")


def _not_found(status: Any) -> bool:
    return int(status.code) == _ERR_ERROR_RESPONSE and int(status.errno) == 3011


def _not_a_directory(status: Any) -> bool:
    return int(status.code) == _ERR_ERROR_RESPONSE and "not a directory" in str(status.message)


__all__ = ["XRootDStore", "split_url"]
