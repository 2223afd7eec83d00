"""Fixtures for the web tests: one instance holding every real CODP record, in-process and live.

* ``web_home``: a data directory into which the real ``openhep ingest`` loaded the 7,535 CODP
  records and ``openhep reindex`` built the search index (once per test run).
* ``site_home``: ``web_home`` copied and made the demo instance by ``openhep demo`` (sample
  records with real bytes, CODP's docs pages), once per test run.
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
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from _services.serve import free_port, openhep_env, run_openhep, serving
from openhep.settings import Settings
from openhep.web import create_app

__all__ = ["free_port", "openhep_env", "run_openhep", "serving"]

CODP_RECORDS = 7535


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
def site_home(web_home: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``web_home`` made the demo instance: ``openhep demo`` adds the sample records
    (real bytes) and CODP's docs pages.

    Built once per test run, like ``web_home``: xdist workers share it (the first one builds it
    under a lock, aside, then renames it into place), and the servers only read it.
    """
    basetemp = tmp_path_factory.getbasetemp()
    root = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    home = root / "site-home"
    with (root / "site-home.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not home.is_dir():
            building = Path(tempfile.mkdtemp(prefix="site-home-", dir=root)) / "home"
            shutil.copytree(web_home, building)
            records = str(anchors / "codp-records")
            docs = str(anchors / "codp-docs")
            run_openhep(
                building, "demo", "--records", records, "--samples", str(anchors),
                "--docs", docs, "--json",
            )  # fmt: skip
            building.rename(home)
    return home


@pytest.fixture(scope="session")
def client(web_home: Path) -> Iterator[TestClient]:
    """The app in-process; server errors propagate as exceptions (a 500 fails loudly)."""
    with TestClient(create_app(Settings(home=web_home))) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def live_server(web_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL (``http://127.0.0.1:PORT``) of ``openhep serve`` over ``web_home``."""
    with serving(web_home, tmp_path_factory.mktemp("live") / "serve.log") as url:
        yield url
