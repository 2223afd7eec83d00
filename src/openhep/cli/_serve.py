"""Serving commands: ``openhep serve`` and ``openhep reindex``."""

from __future__ import annotations

import copy
import time
from typing import Annotated, Any

import typer
import uvicorn

from openhep.cli._catalog import err
from openhep.cli._server import ServerConfig, ServerLimits, raise_open_files_limit, server_limits
from openhep.cli._workers import Supervisor, listening_socket
from openhep.services import Curator
from openhep.settings import Settings
from openhep.storage import OriginRules, PrefixRules

#: How long stopping workers may finish the requests they hold before those are cancelled.
_STOP_TIMEOUT_S = 15


def _log_config(access_log: bool) -> dict[str, Any]:
    """uvicorn's logging, plus the access log (``openhep.access``, one line a request, see
    ``openhep.web._access_log``) on standard output, or silenced."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["openhep_access"] = {
        "format": "%(asctime)s %(message)s",
        "datefmt": "%Y-%m-%dT%H:%M:%S",
    }
    config["handlers"]["openhep_access"] = {
        "class": "logging.StreamHandler",
        "formatter": "openhep_access",
        "stream": "ext://sys.stdout",
    }
    config["loggers"]["openhep.access"] = {
        "handlers": ["openhep_access"],
        "level": "INFO" if access_log else "WARNING",
        "propagate": False,
    }
    return config


def _config(
    host: str, port: int, workers: int, access_log: bool, settings: Settings, limits: ServerLimits
) -> ServerConfig:
    return ServerConfig(
        "openhep.web:app_factory",
        limits=limits,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ws="none",  # the portal has no WebSocket routes
        timeout_keep_alive=settings.keepalive_timeout_s,
        timeout_graceful_shutdown=_STOP_TIMEOUT_S,
        log_level="warning",
        log_config=_log_config(access_log),
        access_log=False,  # uvicorn's has no duration: ours is openhep.access
    )


def _announce(host: str, port: int, workers: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    plural = "s" if workers != 1 else ""
    print(
        f"openhep serve: listening on http://{shown}:{port}/ ({workers} worker{plural})", flush=True
    )


def _check_settings() -> tuple[Settings, ServerLimits]:
    """Refuse to start, with the setting's own message, on settings a worker would fail on."""
    try:
        settings = Settings.from_env()
        PrefixRules.parse(settings.storage_prefixes)
        OriginRules.parse(settings.file_origins)
        limits = server_limits(settings, raise_open_files_limit())
    except ValueError as exc:
        err.print(f"openhep serve: {exc}", markup=False)
        raise typer.Exit(2) from None
    return settings, limits


def _cannot_listen(host: str, port: int, exc: OSError) -> typer.Exit:
    err.print(
        f"openhep serve: cannot listen on {host}:{port} ({exc.strerror}); "
        "choose another --port or --host",
        markup=False,
    )
    return typer.Exit(1)


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Print a line per request (method, path, status, duration) on standard output.",
        ),
    ] = True,
) -> None:
    """Serve the portal (API and pages) with uvicorn; print the address it listens on."""
    settings, limits = _check_settings()
    config = _config(host, port, workers, access_log, settings, limits)
    # Refuse a port something else listens on, rather than share it with that process.
    try:
        sock = listening_socket(host, port, reuse_port=False)
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from None
    _announce(host, port, workers)
    if workers == 1:
        uvicorn.Server(config).run(sockets=[sock])
        return
    sock.close()  # each worker listens with a socket of its own
    raise typer.Exit(Supervisor(config).run_until_stopped())


def reindex_command() -> None:
    """Rebuild the search index from the catalogue."""
    started = time.perf_counter()
    with Curator() as curator:
        count = curator.reindex()
    err.print(f"indexed {count:,} records in {time.perf_counter() - started:.1f} s", markup=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.command("reindex")(reindex_command)
