"""``openhep serve --workers N``: uvicorn's supervisor, with a listening socket per worker,
workers that die with their parent, and restarts with back-off."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import pickle
import signal
import socket
import sys
import time

from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from openhep.cli._server import ServerConfig

logger = logging.getLogger("uvicorn.error")

#: A worker that lived this long before dying is restarted at once; one that died sooner is
#: restarted after a delay that doubles with each such death in a row, up to _BACKOFF_MAX_S.
_HEALTHY_AFTER_S = 10.0
_BACKOFF_FIRST_S = 1.0
_BACKOFF_MAX_S = 30.0
#: How long SIGHUP waits for each new worker to serve before giving up the replacement.
_HUP_START_TIMEOUT_S = 120.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def backoff_s(quick_deaths: int) -> float:
    """The delay before restarting a worker after ``quick_deaths`` deaths in a row that each
    came within _HEALTHY_AFTER_S of its start (0: restart at once)."""
    if quick_deaths <= 0:
        return 0.0
    return float(min(_BACKOFF_FIRST_S * 2 ** (quick_deaths - 1), _BACKOFF_MAX_S))


def listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
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


def die_with_parent(parent: int) -> None:
    """Have the kernel send this process SIGTERM when ``parent`` ends, however it ends (Linux);
    exit now if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            logger.warning("openhep serve: prctl(PR_SET_PDEATHSIG) failed: %s", ctypes.get_errno())
    if os.getppid() != parent:  # it died before the signal was asked for
        os._exit(1)


class Worker(Process):
    """One worker process: it dies with its parent, and listens on the port with a socket of
    its own (``SO_REUSEPORT``).

    With the one socket uvicorn's workers share, whichever process wakes first accepts a burst
    of connections and keeps its keep-alive clients: two workers often served with one core
    (docs/performance.md). With a socket per worker the kernel spreads new connections over
    the workers, and a worker's socket closes with it, so no connection waits on a dead one.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.parent = os.getpid()
        self.started_at = time.monotonic()
        self.ready = False  # known (in the parent) to have started serving
        super().__init__(config, [])

    def check_ready(self) -> bool:
        """Whether the worker has said it serves; asks again without waiting for the answer.

        (uvicorn's ``is_ready`` waits for one: a worker still importing would hold the
        supervisor up, and its answers to the pings sent meanwhile would arrive late.)
        """
        with contextlib.suppress(OSError, EOFError, pickle.UnpicklingError):
            while self.parent_conn.poll():
                self.ready = bool(self.parent_conn.recv()) or self.ready
            if not self.ready:
                self.parent_conn.send(b"ping")
        return self.ready

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        die_with_parent(self.parent)
        # Bound now, listening only once the app has started (uvicorn listens after its
        # lifespan): until then the kernel hands this port's connections to the other workers.
        sock = listening_socket(self.config.host, self.config.port, reuse_port=True)
        super().target([sock])


class Supervisor(Multiprocess):
    """uvicorn's supervisor (signals, health checks, graceful stop) over :class:`Worker`\\ s.

    A worker that dies is restarted, after a back-off if it keeps dying soon after its start
    (uvicorn's restarts at once, and stops the server when a worker fails to start). Only
    when no worker has ever served and one fails to start (the app cannot start: bad
    settings, no catalogue) does the server stop, with exit status 1.
    """

    def __init__(self, config: ServerConfig) -> None:
        super().__init__(config, [])
        self.worker_config = config
        self.served = False
        self.failed = False
        #: per slot: deaths in a row soon after start, and when the slot may start again
        self.quick_deaths: list[int] = []
        self.restart_at: list[float | None] = []

    def _new_worker(self) -> Worker:
        worker = Worker(self.worker_config)
        worker.start()
        return worker

    def init_processes(self) -> None:
        for _ in range(self.processes_num):
            self.processes.append(self._new_worker())
            self.quick_deaths.append(0)
            self.restart_at.append(None)

    def handle_ttin(self) -> None:
        self.processes_num += 1
        self.processes.append(self._new_worker())
        self.quick_deaths.append(0)
        self.restart_at.append(None)

    def handle_ttou(self) -> None:
        super().handle_ttou()
        del self.quick_deaths[len(self.processes) :], self.restart_at[len(self.processes) :]

    def handle_hup(self) -> None:
        """Replace the workers one by one (a new one serves before the old one stops)."""
        logger.warning("openhep serve: SIGHUP, replacing the workers one by one")
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._new_worker()
            if not new.wait_until_ready(_HUP_START_TIMEOUT_S, self.should_exit):
                new.kill()
                new.join()
                logger.error("openhep serve: a new worker did not start; keeping the others")
                return
            old.terminate()
            old.join()
            self.processes[index] = new

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        now = time.monotonic()
        for index, worker in enumerate(self.processes):
            due = self.restart_at[index]
            if due is not None:  # dead, waiting out its back-off
                if now >= due:
                    self.processes[index] = self._new_worker()
                    self.restart_at[index] = None
                continue
            assert isinstance(worker, Worker)
            if not self._alive(worker):
                self._died(index, worker, now)
                if self.should_exit.is_set():
                    return

    def _alive(self, worker: Worker) -> bool:
        if not worker.process.is_alive():
            return False
        if not worker.ready:
            # Until it serves, a worker is only asked whether it does: one still importing or
            # building its index does not answer health checks yet, and is not hung.
            self.served = worker.check_ready() or self.served
            return True
        return worker.is_alive(timeout=self.config.timeout_worker_healthcheck)

    def _died(self, index: int, worker: Worker, now: float) -> None:
        worker.kill()  # if it hung rather than died
        worker.join()
        code = worker.exitcode
        if code == STARTUP_FAILURE and not self.served:
            logger.error("openhep serve: a worker could not start (its error is above); stopping")
            self.failed = True
            self.should_exit.set()
            return
        quick = now - worker.started_at < _HEALTHY_AFTER_S
        self.quick_deaths[index] = self.quick_deaths[index] + 1 if quick else 0
        delay = backoff_s(self.quick_deaths[index])
        how = f"signal {-code}" if code is not None and code < 0 else f"status {code}"
        logger.warning(
            "openhep serve: worker %s ended (%s); restarting it in %.0f s", worker.pid, how, delay
        )
        self.restart_at[index] = now + delay

    def run_until_stopped(self) -> int:
        """Serve until SIGINT/SIGTERM; the exit status of ``openhep serve``."""
        self.run()
        return 1 if self.failed else 0
