"""The body limit of requests that are not uploads (``OPENHEP_MAX_BODY_BYTES``): 413 before any
route runs. Uploads keep their own limit, ``OPENHEP_MAX_UPLOAD_BYTES`` (``web/api/files.py``)."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The methods of the routes that take a body: the upload API (``PUT
#: /api/records/<recid>/files/<key>``) is the only one. Every other request may carry at most
#: ``max_bytes``, which no route reads.
UPLOAD_METHODS = frozenset({"PUT"})


class BodyLimitMiddleware:
    """Answers 413 (and closes) a request that is not an upload and whose body is longer than
    ``max_bytes``: by its ``Content-Length`` at once, or, sent in chunks, once that many have
    arrived (such a body is read before the route runs, and handed to it whole)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in UPLOAD_METHODS:
            await self.app(scope, receive, send)
            return
        length: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        if length is not None and length.isdigit():
            if int(length) > self.max_bytes:
                await self._too_large(send)
                return
            await self.app(scope, receive, send)
            return
        if not chunked:
            await self.app(scope, receive, send)
            return
        # A chunked body: read it now, up to the limit, and replay it to the app.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": bytes(body), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _too_large(self, send: Send) -> None:
        body = orjson.dumps(
            {
                "status": 413,
                "message": f"the request body is longer than {self.max_bytes} bytes"
                " (only uploads may be longer)",
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(body)),
                    (b"connection", b"close"),  # the rest of the body is not read
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(first: list[Message], receive: Receive) -> Receive:
    pending = list(first)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
