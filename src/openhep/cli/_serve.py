"""Serving commands: ``openhep serve`` and ``openhep reindex``."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from openhep.cli._catalog import err, open_catalog
from openhep.search._index import open_index
from openhep.settings import Settings


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the portal (API and pages) with uvicorn."""
    import uvicorn

    uvicorn.run(
        "openhep.web:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def reindex_command() -> None:
    """Rebuild the search index from the catalogue."""
    settings = Settings.from_env()
    started = time.perf_counter()
    with open_catalog() as catalog:
        count = open_index(settings.home).rebuild(catalog)
    err.print(f"indexed {count:,} records in {time.perf_counter() - started:.1f} s", markup=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.command("reindex")(reindex_command)
