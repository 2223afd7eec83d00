"""What one ``openhep serve`` process lets a client make it hold: the request limits, the head
timeout and the connection cap, on top of uvicorn's httptools protocol."""

from __future__ import annotations

import asyncio
import http
import resource
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from openhep.settings import DEFAULT_MAX_CONNECTIONS, Settings

#: After a rejection the connection reads (and drops) what the client is still sending for this
#: long, or this many bytes, before closing: closing with unread bytes makes the kernel answer
#: with a reset, which can destroy the 431 before the client has read it.
_LINGER_S = 2.0
_LINGER_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """The bounds each server process applies before a request reaches the app."""

    max_header_bytes: int
    max_headers: int
    max_url_bytes: int
    head_timeout_s: float
    max_connections: int


class LimitsError(ValueError):
    """A limit this machine cannot honour (the message says which setting to change)."""


def raise_open_files_limit() -> int:
    """Raise this process's soft open-files limit to its hard limit (children inherit it);
    return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):
            pass  # keep the soft limit we have; the connection cap follows it
    return soft


def server_limits(settings: Settings, open_files: int) -> ServerLimits:
    """The limits of ``settings``; the connection cap at most half of ``open_files`` (the rest
    is for connections being accepted or closed, files served, the index and the catalogue)."""
    ceiling = open_files // 2
    cap = settings.max_connections
    if cap is not None and cap > ceiling:
        raise LimitsError(
            f"OPENHEP_MAX_CONNECTIONS={cap}: more than half the open-files limit ({open_files});"
            " raise the limit (ulimit -n, systemd LimitNOFILE=) or lower the setting"
        )
    if cap is None:
        cap = min(DEFAULT_MAX_CONNECTIONS, ceiling)
    if cap < 16:
        raise LimitsError(
            f"the open-files limit ({open_files}) leaves room for {cap} connections;"
            " raise it (ulimit -n, systemd LimitNOFILE=)"
        )
    return ServerLimits(
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        max_url_bytes=settings.max_url_bytes,
        head_timeout_s=settings.head_timeout_s,
        max_connections=cap,
    )


class ServerConfig(Config):
    """uvicorn's configuration, plus the limits and each process's table of idle connections."""

    def __init__(self, app: str, *, limits: ServerLimits, **options: Any) -> None:
        super().__init__(app, http=BoundedHttpToolsProtocol, **options)
        self.limits = limits
        #: Idle connections of this process (waiting for a request head, or kept alive between
        #: requests), longest idle first: a dict used as an ordered set.
        self.idle_connections: dict[BoundedHttpToolsProtocol, None] = {}


def _answer(status: int, message: str) -> bytes:
    """A whole HTTP/1.1 answer with CODP's JSON error body, closing the connection."""
    body = orjson.dumps({"status": status, "message": message})
    head = (
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounds on what a client can make it hold.

    - the request head (request line and headers) is read up to ``max_header_bytes``: 431
      beyond (httptools keeps a header field it has not finished in memory, however long);
      more than ``max_headers`` header fields: 431; a request target longer than
      ``max_url_bytes``: 414;
    - a connection has ``head_timeout_s`` from its start, or from the first byte of a later
      request, to send the whole head: then 408 (or, if it sent nothing, just closed);
    - a process holds at most ``max_connections`` connections: a new one beyond closes the
      longest-idle connection (waiting for a head or kept alive), or, if none is idle, is
      answered 503 and closed. A client holding many half-sent requests cannot lock others out.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if not isinstance(config, ServerConfig):
            raise TypeError("BoundedHttpToolsProtocol needs a ServerConfig")
        self.limits = config.limits
        self.idle = config.idle_connections
        self.in_head = True  # the bytes arriving are (or begin) a request head
        self.head_bytes = 0
        self.header_count = 0
        self.rejected = False
        self.lingered = 0
        self.head_timer: asyncio.TimerHandle | None = None

    # -- connections ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections and not self._close_idle():
            self.transport = transport
            self.rejected = True
            transport.write(_answer(503, "the server holds all the connections it can: retry"))
            transport.close()
            return
        super().connection_made(transport)
        self.idle[self] = None
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self.idle.pop(self, None)
        super().connection_lost(exc)

    def _close_idle(self) -> bool:
        """Close the longest-idle connection of this process; False if none is idle."""
        while self.idle:
            oldest = next(iter(self.idle))
            del self.idle[oldest]
            if not oldest.transport.is_closing():
                oldest.rejected = True
                oldest.transport.close()
                return True
        return False

    # -- bytes in -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.rejected:
            self._linger(len(data))
            return
        # While a head is arriving, feed the parser no more than the head may still take.
        while self.in_head:
            room = self.limits.max_header_bytes - self.head_bytes
            if room <= 0:
                self._reject(
                    431, f"the request head is longer than {self.limits.max_header_bytes} bytes"
                )
                return
            piece, data = data[:room], data[room:]
            self.head_bytes += len(piece)
            super().data_received(piece)
            if not data or self.rejected or self.transport.is_closing():
                return
        super().data_received(data)

    def _reject(self, status: int, message: str) -> None:
        """Answer ``status`` and close, reading what the client still sends for a while."""
        self.rejected = True
        self._cancel_head_timer()
        self.idle.pop(self, None)
        self._unset_keepalive_if_required()
        if self.transport.is_closing():
            return
        self.transport.write(_answer(status, message))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_S, self.transport.close)

    def _linger(self, received: int) -> None:
        self.lingered += received
        if self.lingered > _LINGER_BYTES:
            self.transport.close()

    # -- the head -------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.limits.head_timeout_s, self._head_late)

    def _cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_late(self) -> None:
        self.head_timer = None
        if self.rejected or not self.in_head or self.transport.is_closing():
            return
        if self.head_bytes:
            self._reject(408, f"the request head took longer than {self.limits.head_timeout_s} s")
        else:
            self.idle.pop(self, None)
            self.transport.close()

    def on_message_begin(self) -> None:
        if self.rejected:
            return
        super().on_message_begin()
        self.in_head = True
        self.header_count = 0
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        if self.rejected:
            return
        super().on_url(url)
        if len(self.url) > self.limits.max_url_bytes:
            limit = self.limits.max_url_bytes
            self._reject(414, f"the request target is longer than {limit} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.rejected:
            return
        self.header_count += 1
        if self.header_count > self.limits.max_headers:
            self._reject(431, f"the request has more than {self.limits.max_headers} header fields")
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.rejected:
            return
        self._cancel_head_timer()
        self.in_head = False
        self.head_bytes = 0
        self.idle.pop(self, None)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self.rejected:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.rejected:
            return
        super().on_message_complete()
        if self.cycle is not None and self.cycle.response_complete:
            self.in_head = True  # answered before its body had all come: what follows is a head

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.rejected or self.transport.is_closing():
            return
        if not self.pipeline and (self.cycle is None or self.cycle.response_complete):
            # Kept alive: idle until the next request (uvicorn's keep-alive timeout runs). What
            # arrives next is a head, unless the answer came before the request's whole body.
            self.in_head = self.cycle is None or not self.cycle.more_body
            self.head_bytes = 0
            self.idle[self] = None
