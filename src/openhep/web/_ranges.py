"""HTTP range and conditional requests (RFC 9110) and the response that streams a stored file.

Parsing is bounded: a ``Range`` header longer than :data:`MAX_RANGE_HEADER_LENGTH`, with more
than :data:`MAX_RANGES` ranges, or whose ranges overlap so much that they would add up to more
than the file is ignored (the whole file is served, as RFC 9110 section 14.2 allows), so that a
request can never make the server send more than one copy of a file. Bodies are read through
the store in :data:`~openhep.storage.CHUNK_SIZE` chunks in a worker thread and sent as they
come, under the server's flow control: memory stays constant whatever the file's size.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

import anyio
import anyio.to_thread
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from openhep.storage import CHUNK_SIZE, adler32

logger = logging.getLogger("openhep.web.files")

#: At most this many ranges in one ``Range`` header; more is ignored (the whole file is sent).
MAX_RANGES = 100
#: A longer ``Range`` header is ignored (100 ranges of two 15-digit positions fit well).
MAX_RANGE_HEADER_LENGTH = 4096
#: Positions with more digits than this are beyond any file (and never reach ``int()``).
_MAX_DIGITS = 18
_BEYOND_ANY_FILE = 10**_MAX_DIGITS

#: An entity tag in a list (``If-None-Match``, ``If-Match``): optional weakness, quoted opaque tag.
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')


class RangeNotSatisfiableError(ValueError):
    """A valid ``Range`` header none of whose ranges overlaps the file (416)."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(
            f"none of the requested ranges lies within the file's {size} bytes:"
            f" ask for bytes 0 to {max(size - 1, 0)}"
        )


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``start`` to ``end`` of a file, both included (as ``Content-Range`` writes them)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def _position(text: str) -> int | None:
    """A ``1*DIGIT`` position, None if ``text`` is not one (ASCII digits only)."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    return int(text) if len(text) <= _MAX_DIGITS else _BEYOND_ANY_FILE


def byte_ranges(header: str | None, size: int) -> list[ByteRange] | None:
    """The ranges a ``Range`` header asks for in a file of ``size`` bytes, in request order.

    None means "serve the whole file": no header, a header that is not a valid ``bytes`` range
    set (RFC 9110 section 14.2: ignored), or one past this server's bounds.
    :class:`RangeNotSatisfiableError` if the set is valid but no range overlaps the file.
    """
    if header is None or len(header) > MAX_RANGE_HEADER_LENGTH:
        return None
    unit, equals, range_set = header.partition("=")
    if not equals or unit.lower() != "bytes":
        return None
    # A list may hold empty elements and optional white space around its commas.
    specs = [spec.strip(" \t") for spec in range_set.split(",")]
    specs = [spec for spec in specs if spec]
    if not specs or len(specs) > MAX_RANGES:
        return None
    wanted: list[tuple[int | None, int | None]] = []
    for spec in specs:
        first_text, dash, last_text = spec.partition("-")
        if not dash:
            return None
        first = _position(first_text) if first_text else None
        last = _position(last_text) if last_text else None
        if (first_text and first is None) or (last_text and last is None):
            return None
        if first is None and last is None:
            return None
        if first is not None and last is not None and last < first:
            return None
        wanted.append((first, last))
    if size == 0:
        # Only a suffix range can be satisfied by an empty file, and it selects nothing.
        if any(first is None and last for first, last in wanted):
            return None
        raise RangeNotSatisfiableError(size)
    ranges: list[ByteRange] = []
    for first, last in wanted:
        if first is None:
            assert last is not None
            if last == 0:
                continue
            ranges.append(ByteRange(max(size - last, 0), size - 1))
        elif first < size:
            ranges.append(ByteRange(first, size - 1 if last is None else min(last, size - 1)))
    if not ranges:
        raise RangeNotSatisfiableError(size)
    if len(ranges) > 1 and sum(r.length for r in ranges) > size:
        # Overlapping ranges would send more than the file: the file itself is cheaper.
        return None
    return ranges


# -- validators and conditional requests ---------------------------------------------------


def http_date(moment: datetime) -> str:
    """``moment`` as an IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``)."""
    return email.utils.format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_http_date(text: str) -> datetime | None:
    """An HTTP-date (any of the three formats RFC 9110 accepts), None if it is not one."""
    try:
        moment = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # A date without a zone (asctime format, "-0000") is GMT by definition.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _tags(header: str) -> list[tuple[bool, str]]:
    """(weak, opaque tag) of each entity tag in a list header."""
    return [(bool(weak), tag) for weak, tag in _ENTITY_TAG.findall(header)]


def _matches(header: str, etag: str, *, weak: bool) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` list names ``etag`` (``*`` names any)."""
    if header.strip() == "*":
        return True
    opaque = etag.strip('"')
    return any(tag == opaque and (weak or not is_weak) for is_weak, tag in _tags(header))


@dataclass(frozen=True, slots=True)
class Validators:
    """A file's validators: a strong entity tag and its modification time (whole seconds)."""

    etag: str
    last_modified: datetime

    def precondition(self, method: str, headers: Mapping[str, str]) -> int | None:
        """The status that ends the request before the file is sent (304, 412), if any.

        The order is RFC 9110 section 13.2.2's: If-Match, If-Unmodified-Since,
        If-None-Match, If-Modified-Since.
        """
        if_match = headers.get("if-match")
        if if_match is not None:
            if not _matches(if_match, self.etag, weak=False):
                return 412
        else:
            since = headers.get("if-unmodified-since")
            date = parse_http_date(since) if since is not None else None
            if date is not None and self.last_modified > date:
                return 412
        if_none_match = headers.get("if-none-match")
        if if_none_match is not None:
            if _matches(if_none_match, self.etag, weak=True):
                return 304 if method in ("GET", "HEAD") else 412
        elif method in ("GET", "HEAD"):
            since = headers.get("if-modified-since")
            date = parse_http_date(since) if since is not None else None
            if date is not None and self.last_modified <= date:
                return 304
        return None

    def if_range_holds(self, header: str | None) -> bool:
        """Whether ``If-Range`` (absent: yes) lets the ``Range`` header apply."""
        if header is None:
            return True
        header = header.strip()
        if header.startswith(("W/", '"')):
            # A weak tag never matches: ranges must come from exactly these bytes.
            return header == self.etag
        date = parse_http_date(header)
        return date is not None and date == self.last_modified


# -- the response ----------------------------------------------------------------------------


def digest_header(adler32_hex: str, sha256: str | None) -> str:
    """RFC 3230 ``Digest``: ``adler32=<8 hex>`` and, when known, ``sha-256=<base64>``."""
    value = f"adler32={adler32_hex}"
    if sha256:
        raw = bytes.fromhex(sha256.removeprefix("sha256:"))
        value += f",sha-256={base64.b64encode(raw).decode('ascii')}"
    return value


class StoredFileResponse(Response):
    """A whole file (200), one range of it or several (206, ``multipart/byteranges``).

    ``reader`` is None for HEAD: the headers are those of the GET, without a body. When the
    whole file is sent, its adler32 is computed on the way and the last chunk is held back
    until it matches ``adler32_hex``: a file whose bytes went bad since its last fixity check
    is cut short (the connection closes before ``Content-Length`` bytes), never delivered as
    if it were good.
    """

    def __init__(
        self,
        reader: BinaryIO | None,
        *,
        name: str,
        size: int,
        ranges: Sequence[ByteRange] | None,
        media_type: str,
        headers: Mapping[str, str],
        adler32_hex: str | None = None,
        on_mismatch: Callable[[str], None] | None = None,
    ) -> None:
        self.reader = reader
        self.on_mismatch = on_mismatch
        self.name = name
        self.size = size
        self.adler32_hex = adler32_hex
        self.ranges = list(ranges) if ranges else []
        self.background = None
        all_headers = dict(headers)
        self._parts: list[tuple[bytes, ByteRange]] = []
        self._closing = b""
        if not self.ranges:
            self.status_code = 200
            self._parts = [(b"", ByteRange(0, size - 1))] if size else []
            length = size
            all_headers["content-type"] = media_type
        elif len(self.ranges) == 1:
            (only,) = self.ranges
            self.status_code = 206
            self._parts = [(b"", only)]
            length = only.length
            all_headers["content-type"] = media_type
            all_headers["content-range"] = only.content_range(size)
        else:
            self.status_code = 206
            boundary = secrets.token_hex(16)
            for i, part in enumerate(self.ranges):
                head = (
                    ("\r\n" if i else "")
                    + f"--{boundary}\r\nContent-Type: {media_type}\r\n"
                    + f"Content-Range: {part.content_range(size)}\r\n\r\n"
                )
                self._parts.append((head.encode("latin-1"), part))
            self._closing = f"\r\n--{boundary}--\r\n".encode("latin-1")
            length = sum(len(head) + part.length for head, part in self._parts)
            length += len(self._closing)
            all_headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
        all_headers["content-length"] = str(length)
        self.raw_headers = [
            (key.lower().encode("latin-1"), value.encode("latin-1"))
            for key, value in all_headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if self.reader is None:
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            async with anyio.create_task_group() as group:

                async def stop_on_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(stop_on_disconnect)
                await self._send_parts(send)
                group.cancel_scope.cancel()
        finally:
            await anyio.to_thread.run_sync(self.reader.close)

    async def _send_parts(self, send: Send) -> None:
        whole = not self.ranges and self.adler32_hex is not None
        for head, part in self._parts:
            if head:
                await send({"type": "http.response.body", "body": head, "more_body": True})
            if not await self._send_range(send, part, verify=whole):
                # Returning without the last message makes the server close the connection:
                # the client sees fewer bytes than Content-Length said, never a good file.
                return
        await send({"type": "http.response.body", "body": self._closing})

    async def _send_range(self, send: Send, part: ByteRange, *, verify: bool) -> bool:
        """Send ``part``; False if the stored bytes turned out to differ from the catalogue."""
        assert self.reader is not None
        position, end, adler = part.start, part.end + 1, 1
        while position < end:
            chunk, adler = await anyio.to_thread.run_sync(
                _read_at, self.reader, position, min(CHUNK_SIZE, end - position), adler, verify
            )
            if not chunk:
                logger.error(
                    "%s: the store ended at byte %d of %d; was it changed while being served?",
                    self.name,
                    position,
                    end,
                )
                return False
            position += len(chunk)
            if verify and position >= end and f"{adler & 0xFFFFFFFF:08x}" != self.adler32_hex:
                found = f"adler32:{adler & 0xFFFFFFFF:08x}"
                logger.error(
                    "%s: its bytes no longer match adler32:%s (found %s); the response was cut"
                    " short and the file is marked corrupt",
                    self.name,
                    self.adler32_hex,
                    found,
                )
                if self.on_mismatch is not None:
                    detail = f"checksum: expected adler32:{self.adler32_hex}, found {found}"
                    await anyio.to_thread.run_sync(self.on_mismatch, detail)
                return False
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        return True


def _read_at(
    reader: BinaryIO, position: int, count: int, adler: int, digest: bool
) -> tuple[bytes, int]:
    """``count`` bytes at ``position`` (fewer at the end of the file) and the running adler32."""
    reader.seek(position)
    chunk = reader.read(count)
    return chunk, adler32(chunk, adler) if digest else adler
