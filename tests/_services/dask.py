"""A throwaway Dask distributed cluster for the tests: a real ``dask scheduler`` and real
``dask worker`` processes (the CLIs of the ``distributed`` package), on 127.0.0.1, each
worker a separate process with one thread, ended and cleaned up on ``stop()``.

The workers import openhep from the same source tree as the tests (``PYTHONPATH``), as the
workers of a real deployment must run the same OpenHEP as the portal."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _services.throwaway import ThrowawayServer

__all__ = ["DaskCluster", "DaskError", "DaskUnavailable"]

HOST = "127.0.0.1"
_START_TIMEOUT = 120.0


class DaskUnavailable(RuntimeError):
    """The ``dask`` command (package dask[distributed]) is not installed."""


class DaskError(RuntimeError):
    """Starting the scheduler or its workers failed."""


def find_dask() -> Path:
    candidate = Path(sys.executable).parent / "dask"
    if candidate.is_file():
        return candidate
    found = shutil.which("dask")
    if found:
        return Path(found)
    raise DaskUnavailable("the dask command is not installed: pip install 'dask[distributed]'")


class DaskCluster(ThrowawayServer):
    """``dask scheduler`` on a free port and ``workers`` ``dask worker`` processes."""

    error = DaskError
    log_name = "scheduler.log"

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self._base: Path | None = None
        self._scheduler: subprocess.Popen[bytes] | None = None
        self._workers: list[subprocess.Popen[bytes]] = []
        self._address: str | None = None

    @property
    def address(self) -> str:
        """``tcp://127.0.0.1:<port>`` of the scheduler."""
        if self._address is None:
            raise DaskError("the cluster is not running")
        return self._address

    @property
    def worker_pids(self) -> list[int]:
        return [p.pid for p in self._workers]

    def start(self) -> DaskCluster:
        if self._scheduler is not None:
            return self
        dask = find_dask()
        self._base = Path(tempfile.mkdtemp(prefix="openhep-dask-"))
        try:
            self._start(dask)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def _env(self) -> dict[str, str]:
        import openhep

        src = str(Path(openhep.__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [src, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        )
        # Its own config directory: no user or site Dask configuration changes the test.
        env["DASK_CONFIG"] = str(self.base_dir / "config")
        env["DASK_DISTRIBUTED__WORKER__DAEMON"] = "False"
        return env

    def _popen(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                argv,
                cwd=self.base_dir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _start(self, dask: Path) -> None:
        info = self.base_dir / "scheduler.json"
        self._scheduler = self._popen(
            [
                str(dask), "scheduler",
                "--host", HOST,
                "--port", "0",
                "--no-dashboard",
                "--dashboard-address", f"{HOST}:0",  # its HTTP server: no fixed port 8787
                "--scheduler-file", str(info),
            ],
            self.log_file,
        )  # fmt: skip
        deadline = time.monotonic() + _START_TIMEOUT
        while not info.exists() or not info.read_text().strip():
            self._check_alive(self._scheduler, self.log_file, deadline)
            time.sleep(0.1)
        self._address = str(json.loads(info.read_text())["address"])
        for i in range(self.workers):
            log = self.base_dir / f"worker-{i}.log"
            self._workers.append(
                self._popen(
                    [
                        str(dask), "worker", self._address,
                        "--host", HOST,
                        "--nthreads", "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--name", f"worker-{i}",
                        "--local-directory", str(self.base_dir / f"worker-{i}"),
                    ],
                    log,
                )
            )  # fmt: skip
        self._wait_for_workers(deadline)

    def _check_alive(self, process: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
        if process.poll() is not None:
            raise DaskError(f"a dask process exited ({process.returncode}):\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise DaskError(f"the dask cluster did not start in time:\n{_tail(log)}")

    def _wait_for_workers(self, deadline: float) -> None:
        from distributed import Client

        with Client(self.address, set_as_default=False, timeout=60) as client:
            while len(client.scheduler_info()["workers"]) < self.workers:
                for i, worker in enumerate(self._workers):
                    self._check_alive(worker, self.base_dir / f"worker-{i}.log", deadline)
                time.sleep(0.2)

    def stop(self) -> None:
        """End the workers, then the scheduler, and delete the directory. Idempotent."""
        for process in [*self._workers, *([self._scheduler] if self._scheduler else [])]:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=15)
        self._workers = []
        self._scheduler = None
        self._address = None
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None
        atexit.unregister(self.stop)

    def __repr__(self) -> str:
        return f"<DaskCluster {self._address or 'stopped'} workers={len(self._workers)}>"


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
