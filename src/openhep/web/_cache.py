"""Answers kept until the catalogue changes: pages and the record API, served again at once.

Every answer of the portal's pages (home, search, record, sitemap, docs, news) and of its
record API (``/api/records/``, ``/api/records/<recid>``, its versions, its events: a file's
bytes change only with a new version) is a function of the request and of four things only: the
catalogue's change log, the state of the replicas (a file found corrupt changes what a record
shows), the documents held (a record links a doc only when it is held here) and the time,
through embargoes. The cache keeps successful answers in memory under the request (path, query,
host, scheme, ``Accept``) and serves them again while the catalogue's state — read with one
cheap query per request, :meth:`openhep.services.Portal.answer_state` (on PostgreSQL a round
trip: never on the event loop) — is the one they were computed at and no embargo has ended
since. Any change empties it; the next request recomputes its answer.

Two halves, so that a request costs one trip to the request threads, hit or miss (each trip
costs CPU and a hand-over of the GIL: see ``openhep.web._threads``):

* :class:`AnswerCacheMiddleware` (on the event loop, no blocking call there) computes the
  request's key. If an answer is kept under it, it reads the catalogue's state in the thread
  pool and serves the answer if still good (before FastAPI's routing: a hit costs the least).
  Otherwise it leaves a :class:`Lookup` in the ASGI scope and keeps the answer it sees sent.
* :func:`cached` wraps each handler whose path :data:`CACHED_PATHS` names. In the handler's
  thread, before the handler's work, it reads the catalogue's state (unless the middleware
  did), empties the cache if that changed and answers from it if another request has kept the
  answer since; otherwise it runs the handler. A path whose handler is
  not wrapped is never kept (``tests/web/test_answer_cache.py`` checks they match).

What is never kept: anything but ``GET``; requests with credentials, cookies, ``Range`` or
conditional headers; answers other than 200, answers that set cookies or say ``no-store``,
streamed file bytes (no file route is in :data:`CACHED_PATHS`), answers larger than a
sixteenth of the cache. It is an LRU bounded in bytes (``OPENHEP_ANSWER_CACHE_MB`` per server
process; 0 turns it off). Served answers carry ``x-cache: hit``, kept ones ``x-cache: miss``.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openhep.catalog import CatalogState
from openhep.model import RECID_PATTERN
from openhep.services import Portal
from openhep.web._threads import run_blocking

_RECID = RECID_PATTERN

#: The paths whose answers depend only on the request and the catalogue's state.
CACHED_PATHS = re.compile(
    rf"^(?:/|/search|/record/{_RECID}|/api/records/?|/api/records/{_RECID}(?:/versions)?"
    rf"|/api/records/{_RECID}/events(?:/[\w.-]{{1,40}}(?:/mass)?)?"
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

    def has(self, key: Key) -> bool:
        """Whether an answer is kept under ``key`` (of some state: :meth:`scope` says if it
        is still good)."""
        return key in self._answers

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


#: Where the middleware leaves a request's :class:`Lookup` in the ASGI scope.
_SCOPE_KEY = "openhep.answer_cache"


class Lookup:
    """One request's dealings with the cache: its key, and what the handler's thread found
    (``epoch`` stays None if no :func:`cached` handler looked: the answer is not kept)."""

    __slots__ = ("cache", "epoch", "hit", "key", "lock", "looked")

    def __init__(self, cache: AnswerCache, lock: threading.Lock, key: Key) -> None:
        self.cache = cache
        self.lock = lock
        self.key = key
        self.epoch: int | None = None
        self.hit = False
        self.looked = False  # find() was called: the answer is computed without a second look

    def find(self, portal: Portal) -> Answer | None:
        """The kept answer, or None (then :attr:`epoch` says which state the answer to compute
        belongs to). Blocking: the catalogue's state is read. Called in a worker thread, or in
        the request threads."""
        self.looked = True
        state = portal.answer_state()
        if state is None:
            return None  # no state to keep it under: computed, not kept (epoch stays None)
        now = time.time()
        cache = self.cache
        with self.lock:
            keeps = cache.holds(state, now)
            if keeps:
                self.epoch = cache.epoch
                found = cache.get(self.key)
        if not keeps:
            # The next embargo's end is read only when the cache is to be emptied (outside the
            # lock: a catalogue read). Another thread may have emptied it meanwhile: scope()
            # then keeps what that one started.
            until = _next_release(portal)
            with self.lock:
                self.epoch = cache.scope(state, now, lambda: until)
                found = cache.get(self.key)
        self.hit = found is not None
        return found


P = ParamSpec("P")
R = TypeVar("R")


def _served(answer: Answer) -> Response:
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = [*answer.headers, _HIT]
    return response


def _lookup(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Lookup, Portal] | None:
    """The request's :class:`Lookup` and portal, unless there is none or it was looked at."""
    request = kwargs.get("request")
    if request is None:
        request = next((a for a in args if isinstance(a, Request)), None)
    if not isinstance(request, Request):
        return None
    lookup = request.scope.get(_SCOPE_KEY)
    portal: Portal | None = getattr(request.app.state, "portal", None)
    if not isinstance(lookup, Lookup) or lookup.looked or portal is None:
        return None
    return lookup, portal


def cached(handler: Callable[P, R]) -> Callable[P, R]:
    """Answer ``handler``'s requests from the cache when it holds their answer (see the module
    docstring). ``handler`` takes the :class:`~starlette.requests.Request` (as ``request``);
    a plain ``def`` handler looks in its own thread, an ``async def`` one in the request threads."""
    if inspect.iscoroutinefunction(handler):
        run = cast(Callable[..., Awaitable[Any]], handler)

        @functools.wraps(handler)
        async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
            found = _lookup(args, kwargs)
            if found is not None:
                lookup, portal = found
                answer = await run_blocking(lookup.find, portal)
                if answer is not None:
                    return _served(answer)
            return await run(*args, **kwargs)

        wrapped_async.answer_cache = True  # type: ignore[attr-defined]
        return cast(Callable[P, R], wrapped_async)

    @functools.wraps(handler)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        found = _lookup(args, kwargs)
        if found is not None:
            lookup, portal = found
            answer = lookup.find(portal)
            if answer is not None:
                return cast(R, _served(answer))
        return handler(*args, **kwargs)

    wrapped.answer_cache = True  # type: ignore[attr-defined]
    return wrapped


def is_cached(handler: Callable[..., Any]) -> bool:
    """Whether ``handler`` was wrapped by :func:`cached`."""
    return getattr(handler, "answer_cache", False) is True


class AnswerCacheMiddleware:
    """The ASGI half of :class:`AnswerCache`: it offers each cacheable request a
    :class:`Lookup` and keeps the answer a :func:`cached` handler computed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.cache = AnswerCache(max_bytes)
        # Lookups run in worker threads; answers are kept on the event loop. Held for a few
        # dictionary operations, never across a read.
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not CACHED_PATHS.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        key = _key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        lookup = Lookup(self.cache, self.lock, key)
        portal: Portal | None = getattr(scope["app"].state, "portal", None)
        if portal is not None and self.cache.has(key):
            # Likely a hit: served from here, in one trip to the pool, without routing. (The
            # catalogue may have changed: then the handler computes it, with no second look.)
            found = await run_blocking(lookup.find, portal)
            if found is not None:
                start = {"type": "http.response.start", "status": found.status}
                await send({**start, "headers": [*found.headers, _HIT]})
                await send({"type": "http.response.body", "body": found.body})
                return
        scope[_SCOPE_KEY] = lookup  # read by the handler (through its Request)
        await self._answer_and_keep(scope, receive, send, lookup)

    async def _answer_and_keep(
        self, scope: Scope, receive: Receive, send: Send, lookup: Lookup
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        keep = True

        async def capture(message: Message) -> None:
            nonlocal start, size, keep
            if message["type"] == "http.response.start":
                # Served from the cache (it carries x-cache: hit), or computed without a look
                # at the cache (the epoch to keep it in is unknown): passed on as it is.
                keep = lookup.epoch is not None and not lookup.hit and _keepable(message)
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
                        assert lookup.epoch is not None
                        with self.lock:
                            self.cache.put(lookup.key, answer, lookup.epoch)
            await send(message)

        await self.app(scope, receive, capture)


def _next_release(portal: Portal) -> float:
    moment = portal.next_release()
    return float("inf") if moment is None else moment.timestamp()
