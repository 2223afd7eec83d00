"""Shared fixtures and policy for the openhep test suite.

* ``postgres_cluster`` / ``postgres_url``: a throwaway PostgreSQL server
  (started lazily, once per session) and a fresh database per test.
* ``anchors``: the real data the repository carries in ``data/`` (records, docs, CMS samples,
  iSpy files; see ``data/README.md``); ``codp_dir``: the records decompressed, one ``.json`` a
  file as CODP publishes them.
* ``xrootd_server``: a throwaway XRootD server (once per session); ``store``: an empty file
  store, once a local directory and once a directory on that server.
* Under ``CI=true`` (or ``CI=1``) nothing may be skipped: every skip, including
  ``pytest.importorskip`` and module-level skips, is turned into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from _services.postgres import PostgresCluster
    from _services.throwaway import ThrowawayServer
    from _services.xrootd import XRootDServer
    from openhep.catalog import Catalog
    from openhep.storage import Store

S = TypeVar("S", bound="ThrowawayServer")

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parent.parent

MARKERS = {
    "postgres": "needs a PostgreSQL server (throwaway cluster from initdb/pg_ctl)",
    "xrootd": "needs an XRootD server (xrootd-server)",
    "browser": "needs a headless browser (chromium)",
    "dask": "needs a Dask scheduler and workers (dask[distributed], started by the test)",
    "nginx": "needs nginx (a throwaway server over a directory)",
    "slow": "slow test",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


# --------------------------------------------------------------------------
# CI: no skips allowed


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def _skip_reason(longrepr: Any) -> str:
    # Skips carry ``(path, lineno, "Skipped: reason")`` as their longrepr.
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return reason.removeprefix("Skipped: ")
    return str(longrepr)


def _fail_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    location = ""
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        location = f" ({report.longrepr[0]}:{report.longrepr[1]})"
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true: {_skip_reason(report.longrepr)}{location}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        _fail_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    # Module-level skips: pytest.importorskip(...) / pytest.skip(allow_module_level=True).
    report = yield
    if report.skipped and in_ci():
        _fail_skip(report)
    return report


# --------------------------------------------------------------------------
# PostgreSQL


def running(server: S, unavailable: type[Exception]) -> Iterator[S]:
    """``server`` started for as long as the fixture lasts; a missing program skips (which
    fails in CI, see above)."""
    try:
        server.start()
    except unavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A private PostgreSQL server for the whole session (started on first use)."""
    from _services.postgres import PostgresCluster, PostgresUnavailable

    yield from running(PostgresCluster(), PostgresUnavailable)


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster, request: pytest.FixtureRequest) -> str:
    """SQLAlchemy URL (``postgresql+psycopg://...``) of a fresh, empty database."""
    stem = "".join(ch if ch.isalnum() else "_" for ch in request.node.name.lower())[:30]
    return postgres_cluster.create_database(f"t_{stem}_{uuid.uuid4().hex[:12]}")


# --------------------------------------------------------------------------
# Shared data


@pytest.fixture(scope="session")
def anchors() -> Path:
    """The repository's ``data/``, e.g. ``anchors / "cms-samples"``; see ``data/README.md``."""
    return REPO_ROOT / "data"


@pytest.fixture(scope="session")
def codp_dir(anchors: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 7,535 real CODP records, one ``<name>.json`` per file of CODP's ``data/records/``
    (decompressed from ``data/codp-records/*.json.gz`` once per test process)."""
    import gzip

    target = tmp_path_factory.mktemp("codp-records")
    for packed in sorted((anchors / "codp-records").glob("*.json.gz")):
        (target / packed.name.removesuffix(".gz")).write_bytes(gzip.decompress(packed.read_bytes()))
    return target


@pytest.fixture(scope="session")
def codp_records(codp_dir: Path) -> list[dict[str, Any]]:
    """Every real CODP record, read independently of openhep (plain ``json``)."""
    import json

    found: list[dict[str, Any]] = []
    for path in sorted(codp_dir.glob("*.json")):
        with path.open(encoding="utf-8") as fh:
            found += json.load(fh)
    return found


# --------------------------------------------------------------------------
# Catalogue back-ends: every catalogue test runs on SQLite and on PostgreSQL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLAlchemy URL of an empty catalogue: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'catalog.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


#: CODP's DoubleMuParked NanoAOD outreach records (12341 among them): real records to attach
#: files to in the file tests.
DOUBLEMUPARKED_RECORDS = "cms-derived-nanoaod-outreach-DoubleMuParked.json"


@pytest.fixture
def doublemuparked_catalog(catalog_url: str, codp_dir: Path) -> Iterator[Catalog]:
    """A catalogue (SQLite, PostgreSQL) holding the real DoubleMuParked outreach records."""
    import json

    from openhep.catalog import Catalog
    from openhep.model import validate_record

    opened = Catalog.open(url=catalog_url)
    records = json.loads((codp_dir / DOUBLEMUPARKED_RECORDS).read_text())
    opened.write([validate_record(r) for r in records])
    yield opened
    opened.close()


# --------------------------------------------------------------------------
# File stores: every store test runs on a local directory and on an XRootD server


@pytest.fixture(scope="session")
def xrootd_server() -> Iterator[XRootDServer]:
    """A private XRootD server for the whole session (started on first use)."""
    from _services.xrootd import XRootDServer, XRootDUnavailable

    yield from running(XRootDServer(), XRootDUnavailable)


@pytest.fixture(params=["local", pytest.param("xrootd", marks=pytest.mark.xrootd)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store: a directory under ``tmp_path``, or a fresh directory on the XRootD server."""
    from openhep.storage import LocalStore

    opened: Store
    if request.param == "local":
        opened = LocalStore(tmp_path / "store")
    else:
        from openhep.storage._xrootd import XRootDStore

        server: XRootDServer = request.getfixturevalue("xrootd_server")
        opened = XRootDStore(server.store_url(f"store-{uuid.uuid4().hex}"))
    try:
        yield opened
    finally:
        opened.close()
