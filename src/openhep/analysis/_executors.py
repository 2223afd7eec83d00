"""Executors: where a job's chunks run — in this process, in a pool of worker processes, or
on a Dask distributed cluster — behind one small interface, cancellable and time-limited."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from openhep.analysis._errors import AnalysisCancelled, AnalysisError, AnalysisTimeout

if TYPE_CHECKING:
    from openhep.settings import Settings

T = TypeVar("T")
R = TypeVar("R")

#: How often a waiting job looks at its cancel event and its deadline, in seconds.
POLL_SECONDS = 0.05
#: Seconds to wait for a Dask scheduler to answer when connecting.
DASK_CONNECT_TIMEOUT = 30.0
#: What OPENHEP_DASK_SCHEDULER may hold.
DASK_ADDRESS = re.compile(r"^(tcp|tls)://[A-Za-z0-9._\-\[\]:]{1,253}:[0-9]{1,5}$")


class ExecutorUnavailable(AnalysisError):
    """The executor cannot run anything (a Dask scheduler that does not answer)."""


class Executor(Protocol):
    """Runs ``fn`` over ``tasks`` and yields each result as its task finishes (in any order).

    Setting ``cancel`` or passing ``deadline`` (a ``time.monotonic()`` value) stops the
    chunks not yet started and raises AnalysisCancelled or AnalysisTimeout; a task's error is
    raised as is, after the others are stopped."""

    def run(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        *,
        cancel: threading.Event | None = None,
        deadline: float | None = None,
    ) -> Iterator[R]: ...

    def close(self) -> None: ...


def _stop_if_asked(cancel: threading.Event | None, deadline: float | None) -> None:
    if cancel is not None and cancel.is_set():
        raise AnalysisCancelled("the job was cancelled")
    if deadline is not None and time.monotonic() >= deadline:
        raise AnalysisTimeout("the job ran past its time limit")


def _drain(
    futures: Sequence[Any],
    cancel: threading.Event | None,
    deadline: float | None,
    stop_rest: Callable[[], None],
) -> Iterator[Any]:
    """Results of ``futures`` (concurrent.futures or distributed futures: both call back
    when done) as they finish; on cancel, deadline, an error or an early close of this
    generator, ``stop_rest`` stops what has not finished."""
    finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for future in futures:
        future.add_done_callback(finished.put)
    remaining = len(futures)
    try:
        while remaining:
            _stop_if_asked(cancel, deadline)
            try:
                future = finished.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            remaining -= 1
            yield future.result()
    finally:
        if remaining:
            stop_rest()


class _Closing:
    """``with executor:`` closes it on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InlineExecutor(_Closing):
    """Runs the chunks one after the other in the calling thread: small jobs, and tests of
    the logic. A chunk that has started runs to its end; cancel and deadline are looked at
    between chunks."""

    workers = 1

    def run(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        *,
        cancel: threading.Event | None = None,
        deadline: float | None = None,
    ) -> Iterator[R]:
        for task in tasks:
            _stop_if_asked(cancel, deadline)
            yield fn(task)

    def close(self) -> None:
        pass


def _start_method(preferred: str) -> str:
    # Never plain fork: the server calling us has threads (uvicorn's, the thread pool of its
    # handlers), and a forked copy of a locked mutex deadlocks the child. forkserver forks
    # from a clean single-threaded server process; spawn starts a fresh interpreter.
    methods = multiprocessing.get_all_start_methods()
    if preferred not in ("forkserver", "spawn"):
        raise ValueError(f"start method {preferred!r}: use 'forkserver' or 'spawn'")
    return preferred if preferred in methods else "spawn"


class ProcessExecutor(_Closing):
    """A pool of ``workers`` processes (default: one per CPU), started on first use and kept
    for the next jobs until ``close()``. Several threads may run jobs on it at once."""

    def __init__(self, workers: int | None = None, *, start_method: str = "forkserver") -> None:
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers: give a whole number above 0, got {workers!r}")
        self.workers = workers or os.cpu_count() or 1
        self.start_method = _start_method(start_method)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("this ProcessExecutor is closed")
            if self._pool is None:
                context = multiprocessing.get_context(self.start_method)
                if self.start_method == "forkserver":
                    # Workers forked from a server that has imported the analysis stack
                    # start in milliseconds rather than importing uproot each.
                    context.set_forkserver_preload(["openhep.analysis._histogram"])
                self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
            return self._pool

    def run(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        *,
        cancel: threading.Event | None = None,
        deadline: float | None = None,
    ) -> Iterator[R]:
        _stop_if_asked(cancel, deadline)
        pool = self._get_pool()
        try:
            futures: list[Future[R]] = [pool.submit(fn, task) for task in tasks]
        except BrokenProcessPool:
            self._forget(pool)
            raise AnalysisError(
                "the analysis worker processes stopped; run the job again"
            ) from None

        def stop_rest() -> None:
            for future in futures:
                future.cancel()  # those not started; a running chunk finishes on its own

        try:
            yield from _drain(futures, cancel, deadline, stop_rest)
        except BrokenProcessPool:
            self._forget(pool)
            raise AnalysisError(
                "an analysis worker process died (out of memory?); run the job again, or on"
                " fewer files"
            ) from None

    def _forget(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker processes (waits for running chunks). Idempotent."""
        with self._lock:
            pool, self._pool, self._closed = self._pool, None, True
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(_Closing):
    """Sends the chunks to a Dask distributed scheduler (``tcp://host:port``); its workers
    must be able to import openhep and read the files' locations. The client connects on
    first use and is kept until ``close()``."""

    def __init__(self, address: str, *, connect_timeout: float = DASK_CONNECT_TIMEOUT) -> None:
        if not isinstance(address, str) or not DASK_ADDRESS.match(address):
            raise ValueError(
                f"Dask scheduler {str(address)[:100]!r}: give tcp://host:port (or tls://)"
            )
        self.address = address
        self.connect_timeout = connect_timeout
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def workers(self) -> int:
        """Threads the cluster's workers run chunks on (at least 1)."""
        info = self._get_client().scheduler_info()
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from distributed import Client

                try:
                    self._client = Client(
                        self.address, set_as_default=False, timeout=self.connect_timeout
                    )
                except (OSError, TimeoutError) as exc:
                    raise ExecutorUnavailable(
                        f"the Dask scheduler at {self.address} does not answer ({exc});"
                        " check OPENHEP_DASK_SCHEDULER"
                    ) from None
            return self._client

    def run(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        *,
        cancel: threading.Event | None = None,
        deadline: float | None = None,
    ) -> Iterator[R]:
        _stop_if_asked(cancel, deadline)
        client = self._get_client()
        # pure=False: two jobs asking the same chunk are two computations (the files may
        # have changed between them; results are cached by content elsewhere).
        futures = client.map(fn, list(tasks), pure=False)

        def stop_rest() -> None:
            with contextlib.suppress(Exception):
                client.cancel(futures)

        yield from _drain(futures, cancel, deadline, stop_rest)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def executor_from_settings(settings: Settings | None = None) -> Executor:
    """The executor the settings ask for: Dask if ``OPENHEP_DASK_SCHEDULER`` is set, else a
    process pool of ``OPENHEP_ANALYSIS_WORKERS`` processes. The caller closes it."""
    if settings is None:
        from openhep.settings import Settings

        settings = Settings.from_env()
    if settings.dask_scheduler:
        return DaskExecutor(settings.dask_scheduler)
    return ProcessExecutor(settings.analysis_workers)
