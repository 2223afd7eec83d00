"""Executors: a process pool (reused, closed) gives the inline counts; cancel and timeout stop
the chunks not yet run."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from _analysis import DIMUON_MASS, DOUBLEMU_RNTUPLE, OPPOSITE_CHARGE
from openhep.analysis import (
    AnalysisCancelled,
    AnalysisError,
    AnalysisTimeout,
    DaskExecutor,
    HistogramRequest,
    InlineExecutor,
    ProcessExecutor,
    Progress,
    executor_from_settings,
    run_histogram,
)
from openhep.settings import Settings

REQUEST = HistogramRequest(DIMUON_MASS, 60, (0.0, 120.0), selection=OPPOSITE_CHARGE)


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessExecutor]:
    with ProcessExecutor(workers=2) as executor:
        yield executor


def test_process_pool_gives_the_inline_counts(pool: ProcessExecutor, samples: Path) -> None:
    files = [str(samples / DOUBLEMU_RNTUPLE)]
    inline = run_histogram(files, REQUEST, executor=InlineExecutor(), chunk_entries=100)
    pooled = run_histogram(files, REQUEST, executor=pool, chunk_entries=100)
    again = run_histogram(files, REQUEST, executor=pool, chunk_entries=37)  # the pool is reused
    for result in (pooled, again):
        assert result.to_json() | {"seconds": 0} == inline.to_json() | {"seconds": 0}
    assert inline.entries > 0


def test_pool_workers_are_other_processes(pool: ProcessExecutor) -> None:
    assert list(pool.run(_pid, [])) == []
    found = set(pool.run(_pid, list(range(8))))
    assert found and os.getpid() not in found


def _pid(_: int) -> int:
    return os.getpid()


def test_cancel_stops_the_chunks_not_yet_run(pool: ProcessExecutor, samples: Path) -> None:
    cancel = threading.Event()
    seen: list[Progress] = []

    def progress(p: Progress) -> None:
        seen.append(p)
        cancel.set()  # as a client that goes away after the first chunk

    with pytest.raises(AnalysisCancelled):
        run_histogram(
            [str(samples / DOUBLEMU_RNTUPLE)],
            REQUEST,
            executor=pool,
            chunk_entries=1,  # 1,000 chunks
            progress=progress,
            cancel=cancel,
        )
    assert len(seen) == 1
    # The pool is still good for the next job.
    result = run_histogram([str(samples / DOUBLEMU_RNTUPLE)], REQUEST, executor=pool)
    assert result.events_read == 1000


def test_cancel_before_start_runs_nothing(samples: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    seen: list[Progress] = []
    with pytest.raises(AnalysisCancelled):
        run_histogram(
            [str(samples / DOUBLEMU_RNTUPLE)],
            REQUEST,
            executor=InlineExecutor(),
            progress=seen.append,
            cancel=cancel,
        )
    assert seen == []


def test_timeout_stops_the_job(pool: ProcessExecutor, samples: Path) -> None:
    seen: list[Progress] = []
    with pytest.raises(AnalysisTimeout) as caught:
        run_histogram(
            [str(samples / DOUBLEMU_RNTUPLE)],
            REQUEST,
            executor=pool,
            chunk_entries=1,
            progress=seen.append,
            timeout=1e-9,  # passed before the first chunk can finish
        )
    assert "OPENHEP_ANALYSIS_TIMEOUT" in caught.value.message
    assert isinstance(caught.value, AnalysisError)  # answered as a bad request, not a 500
    assert len(seen) < 1000


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), True])
def test_bad_timeouts(samples: Path, timeout: float) -> None:
    with pytest.raises(AnalysisError, match="timeout"):
        run_histogram(
            [str(samples / DOUBLEMU_RNTUPLE)], REQUEST, executor=InlineExecutor(), timeout=timeout
        )


def test_closed_pool_refuses_work(samples: Path) -> None:
    executor = ProcessExecutor(workers=1)
    executor.close()
    executor.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        list(executor.run(_pid, [1]))


def test_plain_fork_is_refused() -> None:
    with pytest.raises(ValueError, match="forkserver"):
        ProcessExecutor(start_method="fork")
    with pytest.raises(ValueError, match="workers"):
        ProcessExecutor(workers=0)


def test_executor_from_settings() -> None:
    local = executor_from_settings(Settings(analysis_workers=3))
    assert isinstance(local, ProcessExecutor) and local.workers == 3
    local.close()
    dask = executor_from_settings(Settings(dask_scheduler="tcp://127.0.0.1:8786"))
    assert isinstance(dask, DaskExecutor) and dask.address == "tcp://127.0.0.1:8786"
    dask.close()  # never connected


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"OPENHEP_ANALYSIS_WORKERS": "0"}, "OPENHEP_ANALYSIS_WORKERS"),
        ({"OPENHEP_ANALYSIS_WORKERS": "two"}, "OPENHEP_ANALYSIS_WORKERS"),
        ({"OPENHEP_DASK_SCHEDULER": "http://x:1"}, "tcp://host:port"),
        ({"OPENHEP_DASK_SCHEDULER": "tcp://x"}, "tcp://host:port"),
        ({"OPENHEP_ANALYSIS_TIMEOUT": "0"}, "OPENHEP_ANALYSIS_TIMEOUT"),
        ({"OPENHEP_ANALYSIS_TIMEOUT": "forever"}, "OPENHEP_ANALYSIS_TIMEOUT"),
    ],
)
def test_bad_settings_say_what_to_change(env: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Settings.from_env(env)


def test_settings_from_env(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "OPENHEP_HOME": str(tmp_path),
            "OPENHEP_ANALYSIS_WORKERS": "4",
            "OPENHEP_DASK_SCHEDULER": "tcp://10.0.0.1:8786",
            "OPENHEP_ANALYSIS_TIMEOUT": "30",
        }
    )
    assert settings.analysis_workers == 4
    assert settings.dask_scheduler == "tcp://10.0.0.1:8786"
    assert settings.analysis_timeout == 30.0
    assert settings.analysis_cache_dir == tmp_path / "analysis-cache"
    off = Settings.from_env({"OPENHEP_ANALYSIS_CACHE": "off"})
    assert off.analysis_cache_dir is None
    elsewhere = Settings.from_env({"OPENHEP_ANALYSIS_CACHE": str(tmp_path / "c")})
    assert elsewhere.analysis_cache_dir == tmp_path / "c"
    default = Settings.from_env({})
    assert default.analysis_workers is None and default.dask_scheduler is None
    assert default.analysis_timeout == 300.0
