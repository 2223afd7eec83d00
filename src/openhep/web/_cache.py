"""Answers kept until the catalogue changes: pages and the record API, served again at once.

Every answer of the portal's pages (home, search, record, sitemap, docs, news) and of its
record API (``/api/records/``, ``/api/records/<recid>``, its versions) is a function of the
request and of four things only: the catalogue's change log, the state of the replicas
(a file found corrupt changes what a record shows), the documents held (a record links a doc
only when it is held here) and the time, through embargoes. This
middleware keeps successful answers in memory under the request (path, query, host, scheme,
``Accept``) and serves them again while the catalogue's state — read with one cheap query per
request, :meth:`openhep.services.Portal.answer_state`, in the thread pool like every other
catalogue read (on PostgreSQL it is a round trip: never on the event loop) — is the one they
were computed at and no embargo has ended since. Any change empties it; the next request
recomputes its answer.

What is never kept: anything but ``GET``; requests with credentials, cookies, ``Range`` or
conditional headers; answers other than 200, answers that set cookies or say ``no-store``,
streamed file bytes (no file route is in :data:`CACHED_PATHS`), answers larger than a
sixteenth of the cache. It is an LRU bounded in bytes (``OPENHEP_ANSWER_CACHE_MB`` per server
process; 0 turns it off). Served answers carry ``x-cache: hit``, kept ones ``x-cache: miss``.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openhep.catalog import CatalogState
from openhep.model import RECID_PATTERN
from openhep.services import Portal

_RECID = RECID_PATTERN

#: The paths whose answers depend only on the request and the catalogue's state.
CACHED_PATHS = re.compile(
    rf"^(?:/|/search|/record/{_RECID}|/api/records/?|/api/records/{_RECID}(?:/versions)?"
    r"|/api/documents/(?:[\w.-]{1,200})?"
    r"|/sitemap\.xml|/api/news\.xml|/news(?:/[\w.-]{1,200})?|/glossary|/docs(?:/[\w.-]{1,200})?)$"
)

#: Request headers that make an answer personal or partial: such requests go straight through.
_BYPASS = frozenset(
    {
        b"authorization",
        b"cookie",
        b"range",
        b"if-none-match",
        b"if-modified-since",
        b"if-match",
        b"if-unmodified-since",
        b"if-range",
    }
)
_MAX_QUERY = 2048  # longer query strings are answered, not kept
_MAX_ACCEPT = 512
_HIT = (b"x-cache", b"hit")
_MISS = (b"x-cache", b"miss")

Key = tuple[str, bytes, bytes, str, str, bytes]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 200


class AnswerCache:
    """An LRU of answers bounded in bytes, valid for one catalogue state until a moment."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes // 16
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self._bytes = 0
        self.state: CatalogState | None = None
        self.until = 0.0  # epoch s at which an embargo ends and every answer may change
        self.epoch = 0  # one more each time the cache is emptied

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def bytes(self) -> int:
        return self._bytes

    def scope(self, state: CatalogState, now: float, next_release: Callable[[], float]) -> int:
        """Empty the cache unless it holds answers for ``state`` and no embargo has ended;
        the epoch an answer computed from now on belongs to (see :meth:`put`).

        ``next_release()`` gives the epoch second of the next embargo's end (or ``inf``);
        it is asked only when the cache is emptied.
        """
        if state != self.state or now >= self.until:
            self.clear()
            self.state = state
            self.until = next_release()
        return self.epoch

    def holds(self, state: CatalogState, now: float) -> bool:
        """Whether :meth:`scope` would keep the cache as it is (no need for the next
        embargo's end, then)."""
        return state == self.state and now < self.until

    def clear(self) -> None:
        self._answers.clear()
        self._bytes = 0
        self.state = None
        self.until = 0.0
        self.epoch += 1

    def get(self, key: Key) -> Answer | None:
        found = self._answers.get(key)
        if found is not None:
            self._answers.move_to_end(key)
        return found

    def put(self, key: Key, answer: Answer, epoch: int) -> None:
        """Keep ``answer``, computed in ``epoch``, unless the cache was emptied since: the
        catalogue changed or an embargo ended while it was computed."""
        size = answer.size
        if epoch != self.epoch or size > self.max_entry_bytes:
            return
        old = self._answers.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        self._answers[key] = answer
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, evicted = self._answers.popitem(last=False)
            self._bytes -= evicted.size


def _key(scope: Scope) -> Key | None:
    """The request's cache key, or None if its answer must not be kept."""
    accept = b""
    host = b""
    for name, value in scope["headers"]:
        if name in _BYPASS:
            return None
        if name == b"accept":
            accept = value
        elif name == b"host":
            host = value
    query: bytes = scope.get("query_string", b"")
    if len(query) > _MAX_QUERY or len(accept) > _MAX_ACCEPT:
        return None
    root: str = scope.get("root_path", "")
    return (scope["path"], query, host, scope.get("scheme", "http"), root, accept)


def _keepable(message: Message) -> bool:
    if message["status"] != 200:
        return False
    for name, value in message.get("headers", ()):
        name = name.lower()
        if name == b"set-cookie":
            return False
        if name == b"cache-control" and (b"no-store" in value or b"private" in value):
            return False
    return True


class AnswerCacheMiddleware:
    """The ASGI middleware serving :class:`AnswerCache` (the portal is ``app.state.portal``)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.cache = AnswerCache(max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not CACHED_PATHS.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        key = _key(scope)
        portal: Portal | None = getattr(scope["app"].state, "portal", None)
        state = None
        if key is not None and portal is not None:
            # A catalogue read (and maybe an index refresh): in the thread pool.
            state = await run_in_threadpool(portal.answer_state)
        if key is None or state is None or portal is None:
            await self.app(scope, receive, send)
            return
        cache = self.cache
        now = time.time()
        until = None if cache.holds(state, now) else await run_in_threadpool(_next_release, portal)
        # The next embargo's end is read (in the thread pool) only when the cache is to be
        # emptied. When holds() said yes, nothing awaits before scope(), which keeps the cache
        # and never asks for it (hence no fallback read on the loop).
        epoch = cache.scope(state, now, lambda: until if until is not None else math.inf)
        found = cache.get(key)
        if found is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": found.status,
                    "headers": [*found.headers, _HIT],
                }
            )
            await send({"type": "http.response.body", "body": found.body})
            return
        await self._answer_and_keep(scope, receive, send, key, epoch)

    async def _answer_and_keep(
        self, scope: Scope, receive: Receive, send: Send, key: Key, epoch: int
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        keep = True

        async def capture(message: Message) -> None:
            nonlocal start, size, keep
            if message["type"] == "http.response.start":
                keep = _keepable(message)
                if keep:
                    start = message
                    message = {**message, "headers": [*message.get("headers", ()), _MISS]}
            elif message["type"] == "http.response.body" and keep:
                body: bytes = message.get("body", b"")
                size += len(body)
                if size > self.cache.max_entry_bytes:
                    keep = False
                    chunks.clear()
                else:
                    chunks.append(body)
                    if not message.get("more_body", False) and start is not None:
                        headers = [(k, v) for k, v in start.get("headers", ())]
                        answer = Answer(start["status"], headers, b"".join(chunks))
                        self.cache.put(key, answer, epoch)
            await send(message)

        await self.app(scope, receive, capture)


def _next_release(portal: Portal) -> float:
    moment = portal.next_release()
    return float("inf") if moment is None else moment.timestamp()
