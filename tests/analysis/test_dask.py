"""Dask: the same chunks sent to a real scheduler and two worker processes started by the test
give the counts the process pool and this process give; cancel stops the rest there too."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from _analysis import DIMUON_MASS, DOUBLEMU_RNTUPLE, NANO_DIMUON, OPPOSITE_CHARGE
from openhep.analysis import (
    AnalysisCancelled,
    AnalysisError,
    DaskExecutor,
    ExecutorUnavailable,
    HistogramRequest,
    InlineExecutor,
    ProcessExecutor,
    Progress,
    run_histogram,
)
from openhep.analysis._histogram import ChunkTask, fill_chunk
from openhep.analysis._readers import open_source, plan_chunks

if TYPE_CHECKING:
    from _services.dask import DaskCluster

pytestmark = pytest.mark.dask

REQUEST = HistogramRequest(DIMUON_MASS, 60, (0.0, 120.0), selection=OPPOSITE_CHARGE)


@pytest.fixture(scope="module")
def dask(dask_cluster: DaskCluster) -> Iterator[DaskExecutor]:
    with DaskExecutor(dask_cluster.address) as executor:
        yield executor


def test_chunks_run_on_the_two_worker_processes(
    dask: DaskExecutor, dask_cluster: DaskCluster
) -> None:
    assert dask.workers == 2
    # The workers run in sessions of their own (as the fixture starts them): their session id
    # is their process id. (os.getsid travels by reference: the workers cannot import tests.)
    pids = set(dask.run(os.getsid, [0] * 40))
    assert pids <= set(dask_cluster.worker_pids)
    assert os.getpid() not in pids


def test_dask_gives_the_same_counts_as_processes_and_inline(
    dask: DaskExecutor, samples: Path, doublemu_ttree: Path
) -> None:
    files = [str(samples / DOUBLEMU_RNTUPLE), str(doublemu_ttree)]
    inline = run_histogram(files, REQUEST, executor=InlineExecutor(), chunk_entries=250)
    with ProcessExecutor(workers=2) as pool:
        pooled = run_histogram(files, REQUEST, executor=pool, chunk_entries=100)
    seen: list[Progress] = []
    on_dask = run_histogram(files, REQUEST, executor=dask, chunk_entries=100, progress=seen.append)
    for result in (pooled, on_dask):
        assert result.to_json() | {"seconds": 0} == inline.to_json() | {"seconds": 0}
    assert [p.chunks_done for p in seen] == list(range(1, 21))
    assert seen[-1].events_read == 2000
    assert inline.entries > 0


def test_dask_with_validated_runs_and_per_object_values(dask: DaskExecutor, samples: Path) -> None:
    request = HistogramRequest(
        "Muon_pt", 50, (0.0, 100.0), validated_runs={"315267": [[1, 100_000]]}
    )
    files = [str(samples / NANO_DIMUON)]
    inline = run_histogram(files, request, executor=InlineExecutor())
    on_dask = run_histogram(files, request, executor=dask, chunk_entries=5)
    assert on_dask.to_json() | {"seconds": 0} == inline.to_json() | {"seconds": 0}


def test_an_error_in_a_chunk_comes_back_as_itself(dask: DaskExecutor, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x\n1\n2\n3\n")
    source = open_source(str(path))
    (chunk,) = plan_chunks(source)
    task = ChunkTask(chunk, "job", "x", None, tuple(source.columns.values()), 3, 1.0, 4.0, None,
                     ("x",))  # fmt: skip
    assert next(dask.run(fill_chunk, [task])).counts.tolist() == [0, 1, 1, 1, 0]
    path.write_text("x\n1\n2\n")  # planned on 3 rows, now 2: the worker's AnalysisError …
    with pytest.raises(AnalysisError, match="changed while it was read"):
        list(dask.run(fill_chunk, [task]))  # … crosses to the caller as itself


def test_cancel_on_dask(dask: DaskExecutor, samples: Path) -> None:
    cancel = threading.Event()
    seen: list[Progress] = []

    def progress(p: Progress) -> None:
        seen.append(p)
        cancel.set()

    with pytest.raises(AnalysisCancelled):
        run_histogram(
            [str(samples / DOUBLEMU_RNTUPLE)],
            REQUEST,
            executor=dask,
            chunk_entries=2,
            progress=progress,
            cancel=cancel,
        )
    assert len(seen) == 1
    result = run_histogram([str(samples / DOUBLEMU_RNTUPLE)], REQUEST, executor=dask)
    assert result.events_read == 1000


def test_a_scheduler_that_does_not_answer() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        DaskExecutor(f"tcp://127.0.0.1:{port}", connect_timeout=2) as executor,
        pytest.raises(ExecutorUnavailable, match="does not answer"),
    ):
        list(executor.run(os.getsid, [0]))


@pytest.mark.parametrize("address", ["", "127.0.0.1:8786", "http://h:1", "tcp://h", "tcp://h:1/x"])
def test_bad_addresses(address: str) -> None:
    with pytest.raises(ValueError, match="tcp://host:port"):
        DaskExecutor(address)
