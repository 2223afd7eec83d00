"""Histograms: one chunk's values filled into integer counts, chunks' counts summed, and the
job that plans, runs and merges them (``run_histogram``, ``histogram``)."""

from __future__ import annotations

import functools
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from openhep.analysis._errors import AnalysisError, AnalysisTimeout
from openhep.analysis._executors import Executor, InlineExecutor, ProcessExecutor
from openhep.analysis._expression import Column, CompiledExpression, compile_expression
from openhep.analysis._readers import (
    Chunk,
    Source,
    chunk_target,
    close_job_files,
    open_source,
    plan_chunks,
    read_chunk,
)
from openhep.analysis._request import HistogramRequest, HistogramResult, Progress
from openhep.analysis._runs import LUMI_BRANCH, RUN_BRANCH, ValidatedRuns

if TYPE_CHECKING:
    import hist

#: The most files one job may read.
MAX_FILES = 10_000

Counts = npt.NDArray[np.int64]


# -- filling ------------------------------------------------------------------------------


def bin_edges(bins: int, lo: float, hi: float) -> npt.NDArray[np.float64]:
    """The ``bins + 1`` edges, exactly as ``numpy.histogram`` makes them."""
    return np.linspace(lo, hi, bins + 1, dtype=np.float64)


def fill(values: npt.ArrayLike, bins: int, lo: float, hi: float) -> Counts:
    """Counts of ``values`` (finite or infinite; NaN are the caller's to drop) in ``bins``
    equal bins over ``[lo, hi)``, as ``bins + 2`` integers: underflow, the bins, overflow.

    A value on an edge goes to the bin above it, and ``hi`` itself to the overflow (as in
    ``hist``/boost-histogram). The bins are ``numpy.histogram``'s, the reference analysts use,
    with the values equal to ``hi`` moved from its last bin to the overflow (it was 4 times
    faster than computing the indices ourselves, measured on 5 M values)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    with np.errstate(all="ignore"):
        scale = np.float64(bins) / np.float64(hi - lo)
    at_hi = np.count_nonzero(x == hi)
    if np.isfinite(scale):
        counts, _ = np.histogram(x, bins=bins, range=(lo, hi))  # ignores values outside
        counts[-1] -= at_hi
    else:  # a range narrower than bins / max float: numpy cannot scale it, search instead
        inside = x[(x >= lo) & (x < hi)]
        found = np.searchsorted(bin_edges(bins, lo, hi), inside, side="right") - 1
        counts = np.bincount(np.clip(found, 0, bins - 1), minlength=bins)
    result = np.empty(bins + 2, dtype=np.int64)
    result[0] = np.count_nonzero(x < lo)
    result[1:-1] = counts
    result[-1] = np.count_nonzero(x > hi) + at_hi
    return result


@dataclass(frozen=True)
class Partial:
    """What one chunk (or several, summed) gives: integer counts (underflow, bins, overflow),
    values filled, values skipped, events read."""

    counts: Counts
    entries: int
    skipped: int
    events_read: int

    def __add__(self, other: Partial) -> Partial:
        return Partial(
            self.counts + other.counts,
            self.entries + other.entries,
            self.skipped + other.skipped,
            self.events_read + other.events_read,
        )

    @classmethod
    def empty(cls, bins: int) -> Partial:
        return cls(np.zeros(bins + 2, dtype=np.int64), 0, 0, 0)


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs for one chunk (pickled to it: no open files, no compiled
    code; it compiles the texts against ``columns`` itself)."""

    chunk: Chunk
    job: str
    expression: str
    selection: str | None
    columns: tuple[Column, ...]
    bins: int
    lo: float
    hi: float
    validated_runs: ValidatedRuns | None
    branches: tuple[str, ...]


@functools.lru_cache(maxsize=64)
def _compiled(text: str, columns: tuple[Column, ...], role: str) -> CompiledExpression:
    return compile_expression(text, {c.name: c for c in columns}, role=role)


def fill_chunk(task: ChunkTask) -> Partial:
    """Read one chunk and fill it: the function every executor runs."""
    value = _compiled(task.expression, task.columns, "value")
    selection = (
        None if task.selection is None else _compiled(task.selection, task.columns, "selection")
    )
    arrays = read_chunk(task.chunk, task.branches, job=task.job)
    events = len(arrays)
    keep: npt.NDArray[np.bool_] | None = None
    if task.validated_runs is not None:
        keep = task.validated_runs.mask(
            np.asarray(arrays[RUN_BRANCH]), np.asarray(arrays[LUMI_BRANCH])
        )
    if selection is not None:
        chosen = _event_booleans(selection.evaluate(arrays), events)
        keep = chosen if keep is None else keep & chosen
    if keep is not None:
        arrays = arrays[keep]
    values, skipped = _finite_values(value.evaluate(arrays), len(arrays))
    counts = fill(values, task.bins, task.lo, task.hi)
    return Partial(counts, int(values.size), skipped, events)


def _event_booleans(selected: Any, events: int) -> npt.NDArray[np.bool_]:
    """One boolean per event from a selection's result; None (cannot be evaluated) is False."""
    if isinstance(selected, bool | np.bool_):
        return np.full(events, bool(selected))
    array = ak.fill_none(selected, False, axis=0)
    result = np.asarray(ak.to_numpy(array), dtype=np.bool_)
    if result.shape != (events,):
        raise AnalysisError("selection: must give one true/false per event")
    return result


def _finite_values(values: Any, events: int) -> tuple[npt.NDArray[np.float64], int]:
    """The values to fill, as floats, and how many were skipped: events (or, for a
    per-object expression, lists and objects) whose value is None or NaN."""
    if not isinstance(values, ak.Array | np.ndarray):
        values = np.full(events, values)  # a constant expression: one value per event
    array = ak.Array(values) if isinstance(values, np.ndarray) else values
    if array.ndim > 2:
        raise AnalysisError("expression: gives lists of lists; pick one value per object")
    skipped = 0
    if array.ndim == 2:  # per object: every object of every event is filled
        missing = ak.is_none(array, axis=0)
        skipped += int(np.count_nonzero(ak.to_numpy(missing)))
        array = ak.flatten(array[~missing], axis=1)
    missing_values = np.asarray(ak.to_numpy(ak.is_none(array, axis=0)), dtype=np.bool_)
    if missing_values.any():
        skipped += int(missing_values.sum())
        array = array[~missing_values]
    try:
        flat = np.asarray(ak.to_numpy(array), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(f"expression: does not give numbers ({exc})") from None
    nan = np.isnan(flat)
    if nan.any():
        skipped += int(nan.sum())
        flat = flat[~nan]
    return flat, skipped


# -- the job ------------------------------------------------------------------------------


def run_histogram(
    files: Sequence[str],
    request: HistogramRequest,
    *,
    executor: Executor | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    timeout: float | None = None,
    chunk_entries: int | None = None,
) -> HistogramResult:
    """Histogram ``request`` over ``files`` (locations: local paths, ``root://`` or
    ``http(s)://`` URLs of .root or .csv files).

    The expression and selection are compiled against the first file's columns before
    anything runs (ExpressionError); every file is opened to check it has the tree and the
    branches (AnalysisError); the files are cut into entry-range chunks that ``executor``
    fills (without one: in this process for a single chunk, else in a process pool for this
    job); the integer counts are summed, the same on any executor. ``progress`` is called
    as chunks finish; ``cancel`` (set from any thread) stops the chunks not yet started
    (AnalysisCancelled); ``timeout`` seconds likewise (AnalysisTimeout)."""
    started = time.monotonic()
    deadline = None if timeout is None else started + _timeout(timeout)
    locations = _locations(files)
    sources = [open_source(location, request.tree) for location in locations]
    first = sources[0]
    value = compile_expression(request.expression, first.columns, role="value")
    branches = set(value.branches)
    selection = None
    if request.selection is not None:
        selection = compile_expression(request.selection, first.columns, role="selection")
        branches |= selection.branches
    if request.validated_runs is not None:
        absent = [b for b in (RUN_BRANCH, LUMI_BRANCH) if b not in first.columns]
        if absent:
            raise AnalysisError(
                f"validated runs need the branches '{RUN_BRANCH}' and '{LUMI_BRANCH}';"
                f" {_name(first)} has no {' or '.join(repr(b) for b in absent)}"
            )
        branches |= {RUN_BRANCH, LUMI_BRANCH}
    for source in sources[1:]:
        _check_same_columns(source, first, branches)
    events_total = sum(source.num_entries for source in sources)
    target = chunk_target(events_total, _cpus() if executor is None else _workers(executor))
    chunks = [
        chunk for source in sources for chunk in plan_chunks(source, chunk_entries, target=target)
    ]
    job = uuid.uuid4().hex
    lo, hi = request.range
    columns = tuple(first.columns[name] for name in sorted(first.columns))
    tasks = [
        ChunkTask(
            chunk,
            job,
            request.expression,
            request.selection,
            columns,
            request.bins,
            lo,
            hi,
            request.validated_runs,
            tuple(sorted(branches)),
        )
        for chunk in chunks
    ]
    owned: Executor | None = None
    if executor is None:
        if len(tasks) > 1:
            executor = owned = ProcessExecutor(workers=min(len(tasks), _cpus()))
        else:
            executor = InlineExecutor()
    total = Partial.empty(request.bins)
    done = 0
    results = executor.run(fill_chunk, tasks, cancel=cancel, deadline=deadline)
    try:
        for partial in results:
            total += partial
            done += 1
            if progress is not None:
                progress(Progress(done, len(tasks), total.events_read, events_total))
    except AnalysisTimeout:
        raise AnalysisTimeout(
            f"the histogram took longer than {timeout or 0:g} s and was stopped; read fewer files"
            " or ask an administrator to raise OPENHEP_ANALYSIS_TIMEOUT"
        ) from None
    finally:
        close = getattr(results, "close", None)
        if close is not None:  # a generator: stops its futures if we left early
            close()
        if owned is not None:
            owned.close()
        if isinstance(executor, InlineExecutor):
            close_job_files(job)
    edges = bin_edges(request.bins, lo, hi)
    counts = [float(c) for c in total.counts[1:-1]]
    return HistogramResult(
        edges=[float(e) for e in edges],
        counts=counts,
        sumw2=list(counts),  # unweighted: each fill adds 1 to the sum of weights squared
        entries=total.entries,
        underflow=float(total.counts[0]),
        overflow=float(total.counts[-1]),
        skipped=total.skipped,
        events_read=total.events_read,
        seconds=round(time.monotonic() - started, 3),
        label=request.expression,
    )


def histogram(
    files: str | os.PathLike[str] | Sequence[str],
    expression: str,
    *,
    bins: int,
    range: tuple[float, float],
    selection: str | None = None,
    tree: str = "Events",
    validated_runs: ValidatedRuns | Mapping[str, Any] | str | None = None,
    executor: Executor | None = None,
    chunk_entries: int | None = None,
) -> hist.Hist[Any]:
    """The notebook face of ``run_histogram``: a ``hist.Hist`` whose ``metadata`` holds
    entries, skipped, events_read and seconds.

    >>> h = histogram("nano_dimuon.root", "mass(Muon[0], Muon[1])", bins=120,
    ...               range=(0, 120), selection="nMuon == 2")  # doctest: +SKIP
    """
    request = HistogramRequest(
        expression=expression,
        bins=bins,
        range=range,
        selection=selection,
        tree=tree,
        validated_runs=None if validated_runs is None else ValidatedRuns.parse(validated_runs),
    )
    found = [str(files)] if isinstance(files, str | os.PathLike) else files
    result = run_histogram(found, request, executor=executor, chunk_entries=chunk_entries)
    return result.to_hist()


def _locations(files: Sequence[str]) -> list[str]:
    if isinstance(files, str) or not isinstance(files, Sequence):
        raise AnalysisError("files: give a list of file locations")
    if not files:
        raise AnalysisError("files: no file to read")
    if len(files) > MAX_FILES:
        raise AnalysisError(f"files: more than {MAX_FILES:,} files in one job")
    return [str(f) for f in files]


def _check_same_columns(source: Source, first: Source, branches: set[str]) -> None:
    missing = sorted(b for b in branches if b not in source.columns)
    if missing:
        raise AnalysisError(
            f"{_name(source)} has no {', '.join(repr(b) for b in missing[:10])}, which"
            f" {_name(first)} has: histogram files of the same kind together"
        )
    changed = sorted(b for b in branches if source.columns[b].jagged != first.columns[b].jagged)
    if changed:
        raise AnalysisError(
            f"{', '.join(repr(b) for b in changed[:10])}: a list per event in one file and"
            f" one value per event in another ({_name(first)}, {_name(source)})"
        )


def _name(source: Source) -> str:
    return source.location.rsplit("/", 1)[-1][:200]


def _timeout(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise AnalysisError("timeout: give a number of seconds")
    if not (math.isfinite(seconds) and seconds > 0):
        raise AnalysisError("timeout: give a number of seconds above 0")
    return float(seconds)


def _workers(executor: Executor) -> int:
    workers = getattr(executor, "workers", 1)
    return workers if isinstance(workers, int) and workers > 0 else 1


def _cpus() -> int:
    import os

    return os.cpu_count() or 1
