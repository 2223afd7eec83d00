"""Fixtures for the web tests: one instance holding every real CODP record, in-process and live.

* ``web_home``: a data directory into which the real ``openhep ingest`` loaded the 7,535 CODP
  records and ``openhep reindex`` built the search index (once per test run).
* ``client``: the app in-process (``TestClient`` as a context manager, so its lifespan runs).
* ``live_server``: the base URL of a real ``openhep serve`` on a free local port; tests using it
  are marked ``@pytest.mark.xdist_group("live")`` so that one xdist worker starts it. (pytest
  9.2 with pytest-xdist 3.8 loses that grouping, pytest-xdist#1386: then each worker that runs
  one of them starts its own server, which works as well, at the cost of a second start.)
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from openhep.settings import Settings
from openhep.web import create_app

CODP_RECORDS = 7535
SERVER_START_TIMEOUT = 60.0


def openhep_env(home: Path) -> dict[str, str]:
    """The environment of an ``openhep`` process for the instance at ``home`` (SQLite)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHEP_")}
    env["OPENHEP_HOME"] = str(home)
    # Local traffic must never go through a proxy the environment names.
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def run_openhep(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "openhep", *args],
        env=openhep_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"openhep {' '.join(args)} failed:\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def web_home(codp_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with every real CODP record ingested and indexed.

    Built once per test run: xdist workers share it (the first one builds it under a lock),
    and nothing writes to it afterwards.
    """
    basetemp = tmp_path_factory.getbasetemp()
    # Under xdist each worker's basetemp is a child of the run's; the run's is shared.
    root = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    home = root / "web-home"
    with (root / "web-home.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not home.is_dir():
            # Built aside and renamed: a worker never sees a half-built home.
            building = Path(tempfile.mkdtemp(prefix="web-home-", dir=root))
            summary = json.loads(run_openhep(building, "ingest", str(codp_dir), "--json").stdout)
            assert (summary["created"], summary["rejected"]) == (CODP_RECORDS, 0), summary
            # Indexed before any reader opens it: the in-process apps and the live server then
            # share an index that is up to date, and none of them needs the writer.
            run_openhep(building, "reindex")
            building.rename(home)
    return home


@pytest.fixture(scope="session")
def client(web_home: Path) -> Iterator[TestClient]:
    """The app in-process; server errors propagate as exceptions (a 500 fails loudly)."""
    with TestClient(create_app(Settings(home=web_home))) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    with httpx.Client(trust_env=False, timeout=5.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"openhep serve exited with {process.returncode}:\n{log.read_text()[-4000:]}"
                )
            try:
                if http.get(f"{url}/api/records/", params={"size": 1}).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    pytest.fail(
        f"openhep serve did not answer within {SERVER_START_TIMEOUT:.0f} s:\n"
        f"{log.read_text()[-4000:]}"
    )


@contextmanager
def serving(
    home: Path, log: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run ``openhep serve`` over ``home`` on a free port; yield its base URL, then stop it.

    ``env`` adds environment variables (such as ``OPENHEP_MAX_UPLOAD_BYTES``) to the server's.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Output goes to a file rather than a pipe: nobody reads a pipe while tests run, and a
    # full one would block the server.
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "openhep", "serve", "--port", str(port), *options],
            env=openhep_env(home) | (env or {}),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(url, process, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(web_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL (``http://127.0.0.1:PORT``) of ``openhep serve`` over ``web_home``."""
    with serving(web_home, tmp_path_factory.mktemp("live") / "serve.log") as url:
        yield url
