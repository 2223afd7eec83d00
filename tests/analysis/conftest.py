"""Fixtures of the analysis tests: the real CMS samples, the same events in other containers
(tests/_analysis.py) and a Dask cluster (tests/_services/dask.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from _analysis import write_doublemu_ttree, write_zmumu_csv

if TYPE_CHECKING:
    from _services.dask import DaskCluster


@pytest.fixture(scope="session")
def samples(anchors: Path) -> Path:
    return anchors / "cms-samples"


@pytest.fixture(scope="session")
def zmumu_csv(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_zmumu_csv(samples, tmp_path_factory.mktemp("csv") / "Zmumu_2010.csv")


@pytest.fixture(scope="session")
def doublemu_ttree(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("ttree") / "DoubleMuParked_1000evts_ttree.root"
    return write_doublemu_ttree(samples, target)


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[DaskCluster]:
    """A Dask scheduler and two worker processes (one thread each) on this machine."""
    from _services.dask import DaskCluster, DaskUnavailable

    cluster = DaskCluster(workers=2)
    try:
        cluster.start()
    except DaskUnavailable as exc:
        pytest.skip(str(exc))  # a failure under CI=true
    try:
        yield cluster
    finally:
        cluster.stop()
