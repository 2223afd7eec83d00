"""Running the real ``openhep`` command and ``openhep serve`` for tests (importable from any
test module as ``_services.serve``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

SERVER_START_TIMEOUT = 60.0


def openhep_env(home: Path) -> dict[str, str]:
    """The environment of an ``openhep`` process for the instance at ``home`` (SQLite)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHEP_")}
    env["OPENHEP_HOME"] = str(home)
    # No redirects to CERN's servers (tests never leave this machine): files not held here
    # answer 404 unless a test points OPENHEP_FILE_ORIGINS at a local origin.
    env["OPENHEP_FILE_ORIGINS"] = ""
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


#: The real CODP record the small test instances hold besides the sample records.
DEMO_RECORD = "cms-derived-nanoaod-outreach-DoubleMuParked.json"


def sample_home(base: Path, codp_dir: Path, anchors: Path) -> Path:
    """A small instance under ``base/home``: ``openhep demo`` of one real CODP record
    (:data:`DEMO_RECORD`) and the sample records of ``anchors``."""
    records = base / "records"
    records.mkdir()
    shutil.copy(codp_dir / DEMO_RECORD, records / DEMO_RECORD)
    home = base / "home"
    run_openhep(home, "demo", "--records", str(records), "--samples", str(anchors))
    return home


def record_fields(description: str) -> dict[str, Any]:
    """The fields every record the tests publish themselves shares (add recid and title)."""
    return {
        "accelerator": "CERN-LHC",
        "collections": ["OpenHEP-Test"],
        "experiment": ["CMS"],
        "license": {"attribution": "CC0-1.0"},
        "publisher": "OpenHEP",
        "date_published": "2026",
        "type": {"primary": "Dataset", "secondary": ["Derived"]},
        "abstract": {"description": f"<p>{description}</p>"},
    }


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


def run_serve(env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    """``openhep serve`` run to its end (at most 60 s) with ``env``: for a server that must
    refuse to start, its exit status and output."""
    return subprocess.run(
        [sys.executable, "-m", "openhep", "serve", *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
