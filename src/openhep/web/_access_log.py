"""The access log: one line per HTTP request (method, target, status, duration), on the logger
``openhep.access``, which ``openhep serve`` sends to its standard output unless told
``--no-access-log``. Elsewhere (tests, an app run in-process) the logger is silent.

uvicorn's own access log has no duration, hence this middleware.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("openhep.access")

#: A request target longer than this is cut in the log (queries may be 2,000 characters).
MAX_TARGET = 1000


def _printable(raw: bytes) -> str:
    # The target as the client sent it (percent-encoded), never a control character: a log
    # line stays one line whatever the request held.
    text = raw.decode("latin-1")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


class AccessLogMiddleware:
    """Logs ``GET /search?q=muon 200 12.3ms`` when the response has started and ended."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before its response

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            target = scope.get("raw_path") or scope["path"].encode()
            if scope.get("query_string"):
                target += b"?" + scope["query_string"]
            line = _printable(target[:MAX_TARGET])
            elapsed = (time.perf_counter() - started) * 1000
            logger.info("%s %s %d %.1fms", scope["method"], line, status, elapsed)
