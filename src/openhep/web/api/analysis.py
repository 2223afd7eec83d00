"""``/api/analysis/histogram``: a histogram of a public record's ROOT or CSV files, as JSON
(POST with a JSON body, or GET with the same request in the query string, also as CSV or
PNG), or as a stream of server-sent events that report progress and end with the result.

Every answer is 200, or 400 with ``{"error", "position"?, "names"?, "field"?}`` (an expression
or a request that cannot be run as given), 404 (no such public record or file), 413 (a body
over ``OPENHEP_MAX_BODY_BYTES``, refused before it is read), 503 (the file failed its fixity
check) or 504 (over ``OPENHEP_ANALYSIS_TIMEOUT``); never 500 for anything a client sends.
Nothing is shared between requests but the result cache, so any number of server processes
answer them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import orjson
from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from openhep.analysis import (
    AnalysisCancelled,
    AnalysisError,
    AnalysisTimeout,
    ExpressionError,
    Progress,
)
from openhep.catalog import RecordNotFoundError
from openhep.files import CorruptFileError, FileNotServedError
from openhep.services import (
    Analyst,
    HistogramAnswer,
    HistogramJob,
    HistogramQuery,
    HistogramQueryError,
    histogram_csv,
    histogram_png,
)
from openhep.web._params import QueryStringError, strict_query_params
from openhep.web._threads import off_loop_router

router = off_loop_router(prefix="/api/analysis", tags=["analysis"])
logger = logging.getLogger("openhep.web.analysis")

#: What the GET twin answers, by ``format``.
FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "png": "image/png",
}
#: Parameters of the GET twin besides the request's own.
GET_OPTIONS = ("format", "log")
#: Seconds between comment lines a stream sends while it waits for the next event: they keep
#: proxies from closing an idle connection and find a client that went away.
HEARTBEAT_S = 15.0
#: A stream's events: progress, then one result or error.
Event = tuple[str, dict[str, Any]]

_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["recid", "expression", "bins", "range"],
    "properties": {
        "recid": {"type": "string", "example": "990004"},
        "file": {"type": "string", "description": "A file key (default: all ROOT/CSV files)."},
        "tree": {
            "type": "string",
            "description": "The TTree or RNTuple (default: Events, else events).",
        },
        "expression": {"type": "string", "example": "M"},
        "selection": {"type": "string", "example": "Q1 != Q2"},
        "bins": {"type": "integer", "minimum": 1, "maximum": 10000, "example": 60},
        "range": {"type": "array", "items": {"type": "number"}, "example": [60, 120]},
        "validated_runs": {"type": "object", "description": '{"<run>": [[ls_from, ls_to]]}'},
    },
}


def _analyst(request: Request) -> Analyst:
    found: Analyst = request.app.state.analyst
    return found


def _problem(status: int, body: dict[str, Any]) -> Response:
    """An error answer: the analysis's ``{"error", …}`` and CODP's ``status``/``message``."""
    data = {"status": status, "message": body.get("error", ""), **body}
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _failure(exc: Exception) -> tuple[int, dict[str, Any]] | None:
    """The status and body of an error a client's request may run into (None: a bug)."""
    if isinstance(exc, ExpressionError):
        # Which text it is about (set by the service): the page shows it under that field.
        field = getattr(exc, "field", None)
        return 400, exc.to_json() | ({"field": field} if field else {})
    if isinstance(exc, HistogramQueryError):
        return 400, exc.to_json()
    if isinstance(exc, AnalysisTimeout):
        return 504, exc.to_json()
    if isinstance(exc, AnalysisError):
        return 400, exc.to_json()
    if isinstance(exc, RecordNotFoundError | FileNotServedError):
        return 404, {"error": str(exc)}
    if isinstance(exc, CorruptFileError):
        return 503, {"error": str(exc)}
    if isinstance(exc, QueryStringError):
        return 400, {"error": str(exc)}
    if isinstance(exc, AnalysisCancelled):
        return 499, {"error": "cancelled"}
    return None


async def _watch_disconnect(receive: Receive, cancel: threading.Event) -> None:
    """Set ``cancel`` once the client goes away (the body has been read by then)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            cancel.set()
            return


async def _run(request: Request, work: Callable[[threading.Event], Response]) -> Response:
    """``work(cancel)`` in a worker thread, ``cancel`` set if the client disconnects first;
    errors as :func:`_failure` answers."""
    cancel = threading.Event()
    outcome: Response | Exception
    async with anyio.create_task_group() as group:
        group.start_soon(_watch_disconnect, request.receive, cancel)
        try:
            outcome = await run_in_threadpool(work, cancel)
        except Exception as exc:
            outcome = exc
        group.cancel_scope.cancel()
    if isinstance(outcome, Exception):
        failure = _failure(outcome)
        if failure is None:
            raise outcome
        return _problem(*failure)
    return outcome


# -- POST: JSON, or a stream of events ----------------------------------------------------------


@router.post(
    "/histogram",
    summary="A histogram of a record's files",
    description=(
        "A histogram of `expression` over the record's ROOT (TTree or RNTuple) or CSV files "
        "(or the one `file`), for the events passing `selection` (and `validated_runs`), in "
        "`bins` bins over `range`. Answers `{edges, counts, sumw2, entries, underflow, "
        "overflow, skipped, events_read, seconds, cached, request}`. With `Accept: "
        "text/event-stream` it answers server-sent events: `progress` "
        "(`{chunks_done, chunks_total, events_read, events_total}`), then `result` or "
        "`error`; closing the connection cancels the job."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _REQUEST_SCHEMA}},
        }
    },
)
async def histogram_post(request: Request) -> Response:
    # The body is at most OPENHEP_MAX_BODY_BYTES (the body-limit middleware); everything that
    # blocks — the catalogue, the store, the analysis — runs in a worker thread.
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _problem(400, {"error": f"the body is not JSON: {str(exc)[:200]}"})
    try:
        query = HistogramQuery.from_json(body)
    except HistogramQueryError as exc:
        return _problem(400, exc.to_json())
    analyst = _analyst(request)
    if "text/event-stream" in request.headers.get("accept", ""):
        try:
            job = await run_in_threadpool(analyst.prepare, query)
        except Exception as exc:
            failure = _failure(exc)
            if failure is None:
                raise
            return _problem(*failure)
        return EventStream(analyst, job)

    def work(cancel: threading.Event) -> Response:
        answer = analyst.histogram(query, cancel=cancel)
        return Response(orjson.dumps(answer.to_json()), media_type="application/json")

    return await _run(request, work)


# -- GET: the same request in the query string, as JSON, CSV or PNG ------------------------------


def _flag(value: str | None, name: str) -> bool:
    if value in (None, "", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise HistogramQueryError(f"{name}: give 1 or 0", name)


def _rendered(answer: HistogramAnswer, kind: str, log: bool) -> Response:
    name = f"histogram-{answer.job.query.recid}.{kind}"
    headers = {"content-disposition": f'inline; filename="{name}"'}
    if kind == "png":
        body: bytes = histogram_png(answer, log=log)
    elif kind == "csv":
        body = histogram_csv(answer).encode()
    else:
        body = orjson.dumps(answer.to_json())
    return Response(body, media_type=FORMATS[kind], headers=headers)


@router.get(
    "/histogram",
    summary="A histogram of a record's files (GET, as JSON, CSV or PNG)",
    description=(
        "The POST request's fields as parameters: `recid`, `file`, `tree`, `expression`, "
        "`selection`, `bins`, `lo`, `hi`; `format` json (default), csv (`low,high,count,sumw2`, "
        "a row a bin) or png (matplotlib, CMS style; `log=1` for a log scale). What the "
        "histogram page's download links and shareable addresses use."
    ),
)
async def histogram_get(request: Request) -> Response:
    try:
        params = strict_query_params(request)
        kind = params.get("format") or "json"
        if kind not in FORMATS:
            raise HistogramQueryError(f"format: one of {', '.join(FORMATS)}", "format")
        log = _flag(params.get("log"), "log")
        query = HistogramQuery.from_params(params, also=GET_OPTIONS)
    except (HistogramQueryError, QueryStringError) as exc:
        return _problem(*(_failure(exc) or (400, {"error": str(exc)})))
    analyst = _analyst(request)

    def work(cancel: threading.Event) -> Response:
        # The PNG is drawn here too, in the worker thread (matplotlib's Agg canvas).
        return _rendered(analyst.histogram(query, cancel=cancel), kind, log)

    return await _run(request, work)


# -- the stream ----------------------------------------------------------------------------------


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class EventStream(Response):
    """Server-sent events of one job: ``progress`` events as its chunks finish, then
    ``result`` (the JSON answer) or ``error`` (``{"status", "error", …}``).

    The job runs in a worker thread; a client that closes the connection sets its cancel
    event (its remaining chunks are not run). The disconnect is watched here rather than left
    to Starlette's streaming response, which (ASGI 2.4 servers) notices it only at its next
    write: a job between two progress events would run on.
    """

    media_type = "text/event-stream"

    def __init__(self, analyst: Analyst, job: HistogramJob) -> None:
        # No body (so no content-length): the events are written as they come.
        self.status_code = 200
        self.background = None
        # ``no`` buffering: nginx would otherwise hold the events back until the end.
        self.init_headers({"cache-control": "no-store", "x-accel-buffering": "no"})
        self.analyst = analyst
        self.job = job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cancel = threading.Event()
        events: asyncio.Queue[Event] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def report(kind: str, data: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(events.put_nowait, (kind, data))

        last = {"chunks_done": 0, "chunks_total": 0, "events_read": 0, "events_total": 0}

        def progress(at: Progress) -> None:
            last.update(
                chunks_done=at.chunks_done,
                chunks_total=at.chunks_total,
                events_read=at.events_read,
                events_total=at.events_total,
            )
            report("progress", dict(last))

        def work() -> None:
            try:
                answer = self.analyst.run(self.job, progress=progress, cancel=cancel)
            except AnalysisCancelled:
                # Worth a line: the chunks not run are the point of cancelling.
                logger.warning(
                    "histogram of record %s cancelled after %d of %d chunks: the client went away",
                    self.job.query.recid, last["chunks_done"], last["chunks_total"],
                )  # fmt: skip
                report("error", {"status": 499, "error": "cancelled"})
                return
            except Exception as exc:
                failure = _failure(exc)
                if failure is None:
                    logger.error("unexpected %s in a histogram stream", type(exc).__name__,
                                 exc_info=exc)  # fmt: skip
                    failure = (500, {"error": "an unexpected error occurred; it was logged"})
                status, body = failure
                report("error", {"status": status, **body})
                return
            report("result", answer.to_json())

        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                await _watch_disconnect(receive, cancel)
                group.cancel_scope.cancel()

            group.start_soon(watch)
            # The thread is not cancelled with the group: it sees ``cancel`` and ends.
            worker = threading.Thread(target=work, name="histogram-stream", daemon=True)
            worker.start()
            try:
                await send({"type": "http.response.body", "body": b": started\n\n",
                            "more_body": True})  # fmt: skip
                async for chunk in self._events(events):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:
                pass  # the client went away while we wrote
            finally:
                cancel.set()
                group.cancel_scope.cancel()

    @staticmethod
    async def _events(events: asyncio.Queue[Event]) -> AsyncIterator[bytes]:
        while True:
            try:
                with anyio.fail_after(HEARTBEAT_S):
                    kind, data = await events.get()
            except TimeoutError:
                yield b": waiting\n\n"
                continue
            yield _event(kind, data)
            if kind != "progress":
                return
