"""Building the FastAPI app for one instance: routes, error answers, start-up."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from importlib.resources import files

import orjson
from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from openhep import __version__
from openhep.catalog import RecordNotFoundError
from openhep.events import EventFileError, EventNotFound, UnknownObjects
from openhep.files import CorruptFileError, FileNotServedError
from openhep.model import field_path
from openhep.search import SearchRequestError
from openhep.services import Analyst, EventQueryError, EventViewer, Portal
from openhep.settings import Settings
from openhep.web import file_indices
from openhep.web import files as files_web
from openhep.web._access_log import AccessLogMiddleware
from openhep.web._body_limit import BodyLimitMiddleware
from openhep.web._cache import AnswerCacheMiddleware
from openhep.web._params import QueryStringError
from openhep.web._security import SecurityHeadersMiddleware, api_docs_policy
from openhep.web._threads import install_request_threads
from openhep.web.api import analysis as analysis_api
from openhep.web.api import events as events_api
from openhep.web.api import files as files_api
from openhep.web.api import records as records_api
from openhep.web.pages import docs as docs_pages
from openhep.web.pages import errors as error_pages
from openhep.web.pages import events as event_pages
from openhep.web.pages import histograms as histogram_pages
from openhep.web.pages import home as home_pages
from openhep.web.pages import news as news_pages
from openhep.web.pages import records as records_pages
from openhep.web.pages import search as search_pages
from openhep.web.pages import sitemap as sitemap_pages

logger = logging.getLogger("openhep.web")


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """The JSON error answer CODP gives: ``{"status": 404, "message": "..."}``."""
    return Response(
        orjson.dumps({"status": status, "message": message}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def answer(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The error answer for ``request``: the HTML error page for a browser asking for a page,
    CODP's JSON otherwise (the rule is ``pages.errors.wants_html``)."""
    if error_pages.wants_html(request):
        return error_pages.error_page(request, status, message, dict(headers or {}))
    return error(status, message, headers)


def _answer_with(status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    """An exception handler answering ``status`` with the exception's message."""

    async def handle(request: Request, exc: Exception) -> Response:
        return answer(request, status, str(exc))

    return handle


class _Portal(FastAPI):
    """FastAPI with :class:`SecurityHeadersMiddleware` around everything, error pages of
    Starlette's outermost error middleware included (``add_middleware`` places it inside)."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeadersMiddleware(super().build_middleware_stack())


def create_app(settings: Settings | None = None) -> FastAPI:
    """The portal for the instance ``settings`` names (default: from the environment)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Handlers that read the catalogue, the index or files are plain ``def``: they run
        # in the request threads, off the event loop (openhep.web._threads); file streams
        # and histogram jobs in anyio's, bounded alike. Their work is CPU under the GIL: two
        # threads let a fast request pass a slow one, and a costly search shares its core
        # with one other, not 39 (anyio's default 40); at 200k records, 32 clients, two beat
        # four at p95 in every class of bench/search.py (docs/performance.md).
        request_threads = install_request_threads(settings.request_threads)
        to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        portal = Portal.open(settings)
        # A stale or missing index is brought up to date before the first request.
        portal.refresh(wait=600.0)
        # What adds killed before they completed left (journaled: see openhep.files), and
        # partial writes older than an hour (from before the journal): remove them.
        for orphan in portal.recover(partial_age=3600.0):
            logger.warning(
                "removed %s (%d bytes), left by %s", orphan.path, orphan.size, orphan.writer
            )
        app.state.portal = portal
        # Histograms: its executor (a process pool by default) starts at the first job.
        app.state.analyst = Analyst(portal, settings)
        # The event display: the files it read lately stay open (a few, per process).
        app.state.event_viewer = EventViewer(portal)
        # Everything made so far (modules, the app and its routes, templates, the portal)
        # lives as long as the process: out of the collector's sight, an oldest-generation
        # collection under load walks only what requests made, not the whole heap again.
        # At 200k records, 32 clients, it cut the home page's p95 by a quarter; young
        # collections every 50,000 allocations rather than 700 took 4-8 ms off the record
        # page's (docs/performance.md).
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(50_000, 50, 100)
        try:
            yield
        finally:
            app.state.event_viewer.close()
            app.state.analyst.close()
            request_threads.shutdown(wait=True)
            portal.close()
            # What the app held may now be garbage (an app made and closed in a process that
            # goes on, as in tests): back in the collector's sight, on its usual schedule.
            gc.set_threshold(*thresholds)
            gc.unfreeze()

    app = _Portal(
        title="OpenHEP",
        version=__version__,
        description="An open data portal for particle physics; CODP-compatible REST API.",
        openapi_url="/api/openapi.json",
        # Served below with a policy of its own: FastAPI's page runs an inline script.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )

    @app.get("/api/docs", include_in_schema=False)
    async def _api_docs(request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=f"{root}/api/openapi.json", title="OpenHEP - Swagger UI"
        )
        html = bytes(page.body).decode()
        return Response(
            html,
            media_type="text/html",
            headers={"content-security-policy": api_docs_policy(html)},
        )

    # Service errors whose message is the answer, and their status.
    for error_type, status in (
        (RecordNotFoundError, 404),
        (SearchRequestError, 400),
        (QueryStringError, 400),  # percent-encoded bytes that are not UTF-8
        (FileNotServedError, 404),
        (CorruptFileError, 503),  # failed its fixity check: not served as good
        (EventQueryError, 400),  # the event display page's parameters
        (UnknownObjects, 400),
        (EventNotFound, 404),
        (EventFileError, 422),  # bytes that cannot be read as events
    ):
        app.add_exception_handler(error_type, _answer_with(status))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [f"{field_path(tuple(e['loc'][1:]))}: {e['msg']}" for e in exc.errors()[:10]]
        return answer(request, 400, "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        if exc.status_code == 404 and error_pages.wants_html(request):
            message = error_pages.not_found_message(request, message)
        return answer(request, exc.status_code, message, exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Starlette re-raises after answering (the server logs it too); this line says where.
        where = f"{request.method} {request.url.path}"
        logger.error("unexpected %s on %s", type(exc).__name__, where, exc_info=exc)
        return answer(request, 500, "an unexpected error occurred on the server; it was logged")

    app.include_router(records_api.router)
    app.include_router(files_api.router)
    app.include_router(analysis_api.router)
    app.include_router(events_api.router)
    app.include_router(records_pages.router)
    app.include_router(histogram_pages.router)
    app.include_router(event_pages.router)
    app.include_router(home_pages.router)
    app.include_router(search_pages.router)
    app.include_router(docs_pages.router)
    app.include_router(news_pages.router)
    app.include_router(sitemap_pages.router)
    app.mount("/static", StaticFiles(packages=[("openhep.web", "static")]), name="static")
    favicon = files("openhep.web").joinpath("static/favicon.ico").read_bytes()

    @app.get("/favicon.ico", include_in_schema=False)
    async def _favicon() -> Response:
        # Browsers ask for it at this address whatever the page links.
        headers = {"cache-control": "public, max-age=86400"}
        return Response(favicon, media_type="image/vnd.microsoft.icon", headers=headers)

    app.include_router(files_web.router)
    app.include_router(file_indices.router)
    if settings.answer_cache_bytes:
        # Answers of pages and the record API, kept until the catalogue changes.
        app.add_middleware(AnswerCacheMiddleware, max_bytes=settings.answer_cache_bytes)
    # Before the cache and the routes: a body no route reads is refused before it is read.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Outermost: the line times the whole answer, cached or not.
    app.add_middleware(AccessLogMiddleware)
    return app


def app_factory() -> FastAPI:
    """For ``uvicorn --factory`` (``openhep serve``): settings from the environment."""
    return create_app()
