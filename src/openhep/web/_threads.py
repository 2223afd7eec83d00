"""The request threads: where the plain ``def`` handlers run, off the event loop.

A handler that reads the catalogue, the search index or files is a plain ``def``; the event
loop never waits for it. Starlette would hand such a handler to anyio's worker threads; this
module hands it to the event loop's default executor instead, a ``ThreadPoolExecutor`` of
``OPENHEP_REQUEST_THREADS`` threads that the app installs when it starts
(:func:`install_request_threads`). Same threads, same bound, a cheaper trip: with 32 requests
in flight anyio's hand-off costs ~56 µs of CPU a call and asyncio's ~17 µs, and at 200k records
``/api/records/<recid>`` went from 1,920 to 2,730 requests/s in an A/B (docs/performance.md).

Every router of the app is made by :func:`off_loop_router`: its :class:`OffLoopRoute` makes the
hand-off for each ``def`` endpoint; ``async def`` endpoints run on the loop as they are. Long
work that reports progress (histograms) and file streams keep anyio's threads.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from fastapi import APIRouter
from fastapi.routing import APIRoute

P = ParamSpec("P")
R = TypeVar("R")


def install_request_threads(threads: int) -> ThreadPoolExecutor:
    """Make ``threads`` request threads the running loop's default executor (the caller shuts
    it down when the app closes)."""
    executor = ThreadPoolExecutor(threads, thread_name_prefix="openhep-request")
    asyncio.get_running_loop().set_default_executor(executor)
    return executor


async def run_blocking(call: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``call(*args, **kwargs)`` in a request thread, with the caller's context variables."""
    context = contextvars.copy_context()
    work = functools.partial(context.run, call, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, work)


def off_loop(endpoint: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """``endpoint`` (a plain ``def``) as a coroutine function that runs it in a request thread;
    its signature and attributes (what FastAPI reads, the answer cache's mark) are kept."""

    @functools.wraps(endpoint)
    async def handed_off(*args: P.args, **kwargs: P.kwargs) -> R:
        return await run_blocking(endpoint, *args, **kwargs)

    return handed_off


class OffLoopRoute(APIRoute):
    """A route whose plain ``def`` endpoint runs in the request threads (see the module)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = off_loop(endpoint)
        super().__init__(path, endpoint, **options)


def off_loop_router(**options: Any) -> APIRouter:
    """An ``APIRouter`` of :class:`OffLoopRoute` (``options``: prefix, tags, …)."""
    return APIRouter(route_class=OffLoopRoute, **options)
