"""The floor of HTTP latency on this machine: servers that compute nothing, under the load
bench/search.py and bench/pages.py put on OpenHEP.

What it measures: the same load generator (bench/search.py's: ``--clients`` closed-loop
clients on keep-alive connections, asyncio + h11) against servers answering a constant body
of ``--body-bytes`` (default 10,000, about a page or a search answer):

* ``uvicorn_asgi``: uvicorn (``--workers N``, httptools, uvloop) running a bare ASGI callable
  that sends the constant body — the least any uvicorn-served Python answer costs;
* ``fastapi_route``: the same uvicorn running a FastAPI app whose one route returns the
  constant body (a ``def`` route: FastAPI's routing, its thread pool (anyio's) and response);
* ``fastapi_async_route``: the same with an ``async def`` route (no thread pool): the least
  any answer of a FastAPI handler costs;
* ``openhep_def_route``: the same app, a ``def`` route of ``openhep.web.off_loop_router`` (as
  OpenHEP's handlers are now: run in the loop's executor, two request threads);
* ``nginx_static``: Debian's nginx (``worker_processes N``) serving the body as a file — the
  named baseline, what the machine and the load generator allow at all.

If the latency targets of bench/search.py (p50 ≤ 5 ms, p95 ≤ 25 ms) or bench/pages.py (p95 ≤
30 ms) are near or beyond a server that does nothing, no computed answer reaches them on this
machine. Prints one JSON line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import (
    HOST,
    REPO_ROOT,
    Pool,
    Run,
    Server,
    add_http_load_options,
    add_record_option,
    brief,
    first_paragraph,
    measure_http,
    nginx_server,
    progress,
    source_tree,
    warm_up,
)

BODY = b"x" * int(os.environ.get("FLOOR_BODY_BYTES", "10000"))
_HEADERS = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", b"%d" % len(BODY))]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app: the constant body for every HTTP request."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def fastapi_app() -> Any:
    """A FastAPI app answering the constant body: ``/sync/…`` from a ``def`` route (run in
    the thread pool), ``/async/…`` from an ``async def`` route, ``/offloop/…`` from a ``def``
    route of OpenHEP's (run in its request threads)."""
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    from fastapi import FastAPI
    from fastapi.responses import Response

    from openhep.web import install_request_threads, off_loop_router

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        threads = install_request_threads(2)  # OPENHEP_REQUEST_THREADS' default
        yield
        threads.shutdown()

    app = FastAPI(lifespan=lifespan)
    router = off_loop_router()

    @router.get("/offloop/{path:path}")
    def constant_off_loop(path: str) -> Response:
        return Response(BODY, media_type="text/html")

    app.include_router(router)

    @app.get("/sync/{path:path}")
    def constant(path: str) -> Response:
        return Response(BODY, media_type="text/html")

    @app.get("/async/{path:path}")
    async def constant_async(path: str) -> Response:
        return Response(BODY, media_type="text/html")

    return app


note = progress("floor")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=first_paragraph(__doc__))
    add_http_load_options(
        parser,
        duration=10.0,
        duration_help="seconds of load each",
        workers_help="server worker processes",
    )
    parser.add_argument("--body-bytes", type=int, default=10_000, help="size of the answer")
    add_record_option(parser, "floor")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.clients < 1 or args.workers < 1 or args.body_bytes < 1:
        parser.error("--duration, --clients, --workers and --body-bytes must be positive")
    run = Run(
        "floor",
        code=source_tree(None),
        baseline="nginx_static: nginx serving the same bytes as a file",
        settings={
            "clients": args.clients,
            "duration_s": args.duration,
            "workers": args.workers,
            "body_bytes": args.body_bytes,
        },
    )
    result = run.result
    env = dict(os.environ) | {"FLOOR_BODY_BYTES": str(args.body_bytes)}
    uvicorn = [sys.executable, "-m", "uvicorn", "--app-dir", str(REPO_ROOT),
               "--host", HOST, "--port", "{port}", "--workers", str(args.workers),
               "--http", "httptools", "--loop", "uvloop", "--no-access-log",
               "--log-level", "warning"]  # fmt: skip
    with run.workspace(readable=True) as (work, runner), contextlib.ExitStack() as stack:
        static = work / "static"
        (static / "p").mkdir(parents=True)
        (static / "p" / "body.html").write_bytes(b"x" * args.body_bytes)
        servers = {
            "uvicorn_asgi": Server(
                "uvicorn_asgi", [*uvicorn, "bench.floor:asgi_app"], env, work / "asgi.log"
            ),
            "fastapi_route": Server(
                "fastapi_route",
                [*uvicorn, "--factory", "bench.floor:fastapi_app"],
                env,
                work / "f.log",
            ),
        }
        # The same app, its other routes.
        servers["fastapi_async_route"] = servers["fastapi_route"]
        servers["openhep_def_route"] = servers["fastapi_route"]
        if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
            servers["nginx_static"] = nginx_server(work, static, args.workers)
        paths = {
            "uvicorn_asgi": "/x",
            "fastapi_route": "/sync/x",
            "fastapi_async_route": "/async/x",
            "openhep_def_route": "/offloop/x",
            "nginx_static": "/p/body.html",
        }
        for name, server in servers.items():
            if name not in ("fastapi_async_route", "openhep_def_route"):
                stack.callback(server.close)
            server.wait_ready(paths[name])
        for name, server in servers.items():
            pool = Pool([paths[name]], seed=None)
            warm_up(runner, server, pool)
            figure = measure_http(runner, server, pool, args.clients, args.duration)
            result[name] = figure
            note(f"{name}: {brief(figure)}")
    run.finish(save=not args.no_record, process_cpu=False, peak_rss=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
