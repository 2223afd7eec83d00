"""Serving commands: ``openhep serve`` and ``openhep reindex``."""

from __future__ import annotations

import contextlib
import copy
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Annotated, Any

import typer

from openhep.cli._catalog import err, open_catalog
from openhep.search._index import open_index
from openhep.settings import Settings
from openhep.storage import OriginRules, PrefixRules

#: A worker that dies sooner than this after its start is not restarted: it would die again.
_STARTUP_GRACE_S = 10.0
#: How long stopping workers may finish the requests they hold before they are killed.
_STOP_TIMEOUT_S = 15.0


def _listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


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


def _server(host: str, port: int, access_log: bool) -> Any:
    import uvicorn

    config = uvicorn.Config(
        "openhep.web:app_factory",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        log_config=_log_config(access_log),
        access_log=False,  # uvicorn's has no duration: ours is openhep.access
    )
    return uvicorn.Server(config)


def _announce(host: str, port: int, workers: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    plural = "s" if workers != 1 else ""
    print(
        f"openhep serve: listening on http://{shown}:{port}/ ({workers} worker{plural})", flush=True
    )


def _worker(host: str, port: int, access_log: bool) -> None:
    """One worker process: its own listening socket on the shared port, one uvicorn server."""
    # Bound now, listening only once the app has started (uvicorn listens after its
    # lifespan): until then the kernel hands this port's connections to the other workers.
    sock = _listening_socket(host, port, reuse_port=True)
    _server(host, port, access_log).run(sockets=[sock])


class _Workers:
    """``--workers N``: N processes, each listening on the port with ``SO_REUSEPORT``.

    With one shared listening socket (uvicorn's ``--workers``), whichever process wakes first
    accepts a burst of connections, and keep-alive clients then stay on it: two workers served
    32 clients with one core. With a socket per worker the kernel spreads new connections over
    the workers. A worker that dies is restarted; SIGTERM or SIGINT stops them all gracefully.
    """

    def __init__(self, host: str, port: int, count: int, access_log: bool) -> None:
        self.host, self.port, self.count, self.access_log = host, port, count, access_log
        self.context = multiprocessing.get_context("spawn")
        self.stopping = threading.Event()
        self.processes: list[tuple[BaseProcess, float]] = []

    def _start(self) -> tuple[BaseProcess, float]:
        process = self.context.Process(
            target=_worker, args=(self.host, self.port, self.access_log), daemon=False
        )
        process.start()
        return process, time.monotonic()

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()

    def run(self) -> int:
        # Refuse a port something else listens on, rather than share it with that process.
        try:
            _listening_socket(self.host, self.port, reuse_port=False).close()
        except OSError as exc:
            err.print(
                f"openhep serve: cannot listen on {self.host}:{self.port} ({exc.strerror}); "
                "choose another --port or --host",
                markup=False,
            )
            return 1
        _announce(self.host, self.port, self.count)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._stop)
        self.processes = [self._start() for _ in range(self.count)]
        status = 0
        while not self.stopping.wait(0.5):
            for i, (process, started) in enumerate(self.processes):
                if process.is_alive():
                    continue
                process.join()
                if time.monotonic() - started < _STARTUP_GRACE_S:
                    err.print(
                        f"openhep serve: a worker exited at start (code {process.exitcode}); "
                        "stopping",
                        markup=False,
                    )
                    status = 1
                    self.stopping.set()
                    break
                self.processes[i] = self._start()
        for process, _ in self.processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)  # uvicorn's graceful shutdown
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        for process, _ in self.processes:
            process.join(max(deadline - time.monotonic(), 0.0))
            if process.is_alive():
                process.kill()
                process.join()
        return status


def _check_settings() -> None:
    """Refuse to start, with the setting's own message, on settings a worker would fail on."""
    try:
        settings = Settings.from_env()
        PrefixRules.parse(settings.storage_prefixes)
        OriginRules.parse(settings.file_origins)
    except ValueError as exc:
        err.print(f"openhep serve: {exc}", markup=False)
        raise typer.Exit(2) from None


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
    _check_settings()
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        raise typer.Exit(_Workers(host, port, workers, access_log).run())
    if workers > 1:  # no SO_REUSEPORT: uvicorn's own workers, on one shared socket
        import uvicorn

        _announce(host, port, workers)
        uvicorn.run(
            "openhep.web:app_factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            log_config=_log_config(access_log),
            access_log=False,
        )
        return
    try:
        sock = _listening_socket(host, port, reuse_port=False)
    except OSError as exc:
        err.print(
            f"openhep serve: cannot listen on {host}:{port} ({exc.strerror}); "
            "choose another --port or --host",
            markup=False,
        )
        raise typer.Exit(1) from None
    _announce(host, port, 1)
    _server(host, port, access_log).run(sockets=[sock])


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
