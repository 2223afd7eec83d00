"""Histograms of a public record's files: which files (ROOT and CSV), where their bytes are
(held here, in the XRootD store, or at their origin), the result cache, and the run over them
(:mod:`openhep.analysis`).

A request reaches :class:`Analyst` as a :class:`HistogramQuery` (what a client sent, parsed
and bounded by :meth:`HistogramQuery.from_json` / :meth:`HistogramQuery.from_params`, or
built by the command line). :meth:`Analyst.prepare` resolves it — the record as
:meth:`Portal.record` gives it (public, released: an embargoed record is not found), its files,
their locations and checksums — and :meth:`Analyst.run` answers it from the cache or runs it.
The two steps are apart so that the web app can answer 404 or 400 before it starts a stream.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openhep.analysis import (
    MAX_BINS,
    MAX_EXPRESSION_LENGTH,
    AnalysisError,
    Executor,
    ExpressionError,
    HistogramRequest,
    HistogramResult,
    Progress,
    ResultCache,
    ValidatedRuns,
    cache_key,
    compile_expression,
    executor_from_settings,
    open_source,
    run_histogram,
)
from openhep.files import FileNotServedError, RemoteFile
from openhep.model import RECID, RecordData, RecordFile, is_index_file
from openhep.services._errors import QueryError
from openhep.services._portal import Portal
from openhep.settings import Settings

#: The trees read when a request names none, the first a ROOT file has: NanoAOD's, then the
#: one CMS's education files (the 2010 Z→μμ and H→ZZ samples) use.
DEFAULT_TREES = ("Events", "events")
#: The file kinds the analysis reads, by CODP ``type`` or key extension.
ANALYSABLE_KINDS = ("root", "csv")
#: The longest tree name and file key a request may give (keys are bounded by the model too).
MAX_TREE_LENGTH = 200
MAX_KEY_LENGTH = 1024
#: The most files one request runs over ("all of the record's files" included): beyond it, name
#: one with ``file`` (a dataset of thousands of files is a job for the Python API and Dask).
MAX_FILES = 100
#: The fields of a request body (POST) and the parameters of its GET twin.
BODY_FIELDS = (
    "recid",
    "file",
    "tree",
    "expression",
    "selection",
    "bins",
    "range",
    "validated_runs",
)
QUERY_PARAMETERS = ("recid", "file", "tree", "expression", "selection", "bins", "lo", "hi")


class HistogramQueryError(QueryError):
    """A histogram request that cannot be read as given; ``field`` names the part to change."""


def is_analysable(file: RecordFile) -> bool:
    """Whether the analysis reads ``file``: a ROOT or CSV file (by its type or extension), not
    a file index."""
    if is_index_file(file.json):
        return False
    kind = file.type.lower()
    extension = file.key.rsplit(".", 1)[-1].lower() if "." in file.key else ""
    return kind in ANALYSABLE_KINDS or extension in ANALYSABLE_KINDS


def analysable_files(record: RecordData | Mapping[str, Any]) -> list[RecordFile]:
    """The files of ``record`` a histogram can be made of, in the record's order."""
    return [file for file in RecordData.of(record).files if is_analysable(file)]


# -- reading a request -------------------------------------------------------------------------


def _text(value: object, name: str, *, limit: int, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise HistogramQueryError(f"{name}: give one", name)
        return None
    if not isinstance(value, str):
        raise HistogramQueryError(f"{name}: expected text", name)
    if len(value) > limit:
        raise HistogramQueryError(f"{name}: longer than {limit:,} characters", name)
    if any(ord(c) < 0x20 and c not in "\t" for c in value):
        raise HistogramQueryError(f"{name}: has control characters; write it on one line", name)
    return value


def _recid(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise HistogramQueryError("recid: give the record's recid, such as 990004", "recid")
    if len(value) > 40 or not RECID.match(value):
        raise HistogramQueryError(f"recid: {value[:40]!r} is not a recid", "recid")
    return value


def _bins(value: object) -> int:
    if isinstance(value, str):
        value = int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else value
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_BINS:
        raise HistogramQueryError(f"bins: give a whole number from 1 to {MAX_BINS:,}", "bins")
    return value


def _number(value: object, name: str) -> float:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text) if 0 < len(text) <= 40 else None
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HistogramQueryError(f"{name}: give a number", name)
    number = float(value)
    if not math.isfinite(number):
        raise HistogramQueryError(f"{name}: give a finite number", name)
    return number


def _range(lo: object, hi: object, names: tuple[str, str]) -> tuple[float, float]:
    """``(lo, hi)``, finite and ``lo < hi``; ``names`` say which field each came from."""
    low, high = _number(lo, names[0]), _number(hi, names[1])
    if not low < high:
        raise HistogramQueryError(
            f"{names[1]}: the upper edge must be above the lower one ({_short(low)})", names[1]
        )
    return low, high


@dataclass(frozen=True, slots=True)
class HistogramQuery:
    """A histogram of a record's files, as a client asks for it (checked and bounded)."""

    recid: str
    expression: str
    bins: int
    range: tuple[float, float]
    file: str | None = None
    selection: str | None = None
    tree: str | None = None
    #: The validated-runs JSON as given (``ValidatedRuns.parse`` reads it in ``prepare``).
    validated_runs: object = None

    @classmethod
    def build(
        cls,
        *,
        recid: object,
        expression: object,
        bins: object,
        lo: object,
        hi: object,
        file: object = None,
        selection: object = None,
        tree: object = None,
        validated_runs: object = None,
        range_names: tuple[str, str] = ("range", "range"),
    ) -> HistogramQuery:
        """A query from values of any type, each checked (:class:`HistogramQueryError`)."""
        return cls(
            recid=_recid(recid),
            expression=_text(expression, "expression", limit=MAX_EXPRESSION_LENGTH, required=True)
            or "",
            bins=_bins(bins),
            range=_range(lo, hi, range_names),
            file=_text(file, "file", limit=MAX_KEY_LENGTH),
            selection=_text(selection, "selection", limit=MAX_EXPRESSION_LENGTH),
            tree=_text(tree, "tree", limit=MAX_TREE_LENGTH),
            validated_runs=validated_runs,
        )

    @classmethod
    def from_json(cls, body: object) -> HistogramQuery:
        """The query of a ``POST /api/analysis/histogram`` body (already decoded JSON)."""
        if not isinstance(body, dict):
            raise HistogramQueryError(
                "the body must be a JSON object such as "
                '{"recid": "990004", "expression": "M", "bins": 60, "range": [60, 120]}'
            )
        unknown = sorted(str(name)[:40] for name in body if name not in BODY_FIELDS)
        if unknown:
            raise HistogramQueryError(
                f"unknown field {unknown[0]!r}: the fields are {', '.join(BODY_FIELDS)}",
                unknown[0],
            )
        span = body.get("range")
        if not isinstance(span, list) or len(span) != 2:
            raise HistogramQueryError("range: give [lo, hi], two numbers", "range")
        return cls.build(
            recid=body.get("recid"),
            expression=body.get("expression"),
            bins=body.get("bins"),
            lo=span[0],
            hi=span[1],
            file=body.get("file"),
            selection=body.get("selection"),
            tree=body.get("tree"),
            validated_runs=body.get("validated_runs"),
        )

    @classmethod
    def from_params(
        cls, params: Mapping[str, str], *, also: tuple[str, ...] = ()
    ) -> HistogramQuery:
        """The query of the GET twin's parameters (:data:`QUERY_PARAMETERS`; ``also`` names
        others the caller reads itself, such as ``format``)."""
        unknown = sorted(n[:40] for n in params if n not in QUERY_PARAMETERS and n not in also)
        if unknown:
            raise HistogramQueryError(
                f"unknown parameter {unknown[0]!r}: the parameters are "
                f"{', '.join((*QUERY_PARAMETERS, *also))}",
                unknown[0],
            )
        for name in ("lo", "hi", "bins"):
            if name not in params:
                raise HistogramQueryError(f"{name}: give one", name)
        return cls.build(
            recid=params.get("recid"),
            expression=params.get("expression"),
            bins=params.get("bins"),
            lo=params.get("lo"),
            hi=params.get("hi"),
            file=params.get("file"),
            selection=params.get("selection"),
            tree=params.get("tree"),
            range_names=("lo", "hi"),
        )

    def to_params(self) -> dict[str, str]:
        """The GET twin's parameters of this query (what shareable URLs hold)."""
        params = {"recid": self.recid}
        for name in ("file", "tree"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        params["expression"] = self.expression
        if self.selection is not None:
            params["selection"] = self.selection
        params["bins"] = str(self.bins)
        params["lo"], params["hi"] = (_short(v) for v in self.range)
        return params


def _short(number: float) -> str:
    """``60.0`` → ``60``; other numbers as Python writes them (shortest round trip)."""
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)


# -- answering it ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistogramJob:
    """A resolved query: the files' keys, locations and checksums, the analysis request and
    the key of its answer in the cache."""

    query: HistogramQuery
    title: str
    keys: list[str]
    locations: list[str]
    checksums: list[str]
    request: HistogramRequest

    @property
    def cache_key(self) -> str:
        return cache_key(self.checksums, self.request)

    def request_json(self) -> dict[str, Any]:
        """The canonical request: the record, its files and the analysis request."""
        return {"recid": self.query.recid, "files": self.keys, **self.request.to_json()}


@dataclass(frozen=True, slots=True)
class HistogramAnswer:
    job: HistogramJob
    result: HistogramResult
    cached: bool

    def to_json(self) -> dict[str, Any]:
        """The API's answer: the result's keys, ``cached`` and the canonical ``request``."""
        return {**self.result.to_json(), "cached": self.cached, "request": self.job.request_json()}


@dataclass(frozen=True, slots=True)
class Variable:
    """One of a record's ``dataset_semantics``: what the histogram page offers to plot."""

    variable: str
    description: str
    unit: str
    type: str = ""

    @property
    def plottable(self) -> bool:
        """Whether the page offers it to plot: any but a column of text (``type`` string)."""
        return self.type.lower() != "string"


@dataclass(frozen=True, slots=True)
class AnalysableRecord:
    """What the histogram page shows of a record: its title, its ROOT/CSV files and its
    variables (``dataset_semantics``)."""

    recid: str
    title: str
    files: list[RecordFile]
    variables: list[Variable] = field(default_factory=list)

    @property
    def has_root(self) -> bool:
        return any(not f.key.lower().endswith(".csv") for f in self.files)


class Analyst:
    """Histograms over the files of this instance's public records."""

    def __init__(
        self,
        portal: Portal,
        settings: Settings | None = None,
        *,
        executor: Executor | None = None,
        cache: ResultCache | None = None,
    ) -> None:
        self.portal = portal
        self.settings = settings or Settings.from_env()
        self._executor = executor
        if cache is None and self.settings.analysis_cache_dir is not None:
            cache = ResultCache(self.settings.analysis_cache_dir)
        self._cache = cache
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.close()

    @property
    def executor(self) -> Executor:
        """The executor of this instance's settings, made on first use (one per process)."""
        with self._lock:
            if self._executor is None:
                self._executor = executor_from_settings(self.settings)
            return self._executor

    def analysable(self, recid: str) -> AnalysableRecord:
        """The public record ``recid`` (RecordNotFoundError otherwise) as the histogram page
        shows it."""
        record = RecordData(self.portal.record(recid).stored.metadata)
        variables = [
            Variable(v.variable, v.description, v.unit, v.type)
            for v in record.dataset_semantics
            if v.variable
        ]
        return AnalysableRecord(record.recid, record.title, analysable_files(record), variables)

    def prepare(self, query: HistogramQuery) -> HistogramJob:
        """``query`` resolved: RecordNotFoundError (no such public record), FileNotServedError
        (no such file, or its bytes are neither here nor at an origin), CorruptFileError,
        :class:`HistogramQueryError` (a file the analysis does not read, none at all) or
        AnalysisError (validated runs that are not a validated-runs JSON)."""
        view = self.portal.record(query.recid)
        record = RecordData(view.stored.metadata)
        files = analysable_files(record)
        if query.file is not None:
            chosen = [f for f in record.files if f.key == query.file]
            if not chosen:
                raise FileNotServedError(f"record {query.recid} has no file {query.file!r}")
            if not is_analysable(chosen[0]):
                raise HistogramQueryError(
                    f"file: {query.file!r} is not a ROOT or CSV file; the record's are "
                    f"{', '.join(f.key for f in files) or 'none'}",
                    "file",
                )
            files = chosen
        elif not files:
            raise HistogramQueryError(
                f"record {query.recid} has no ROOT or CSV file to make a histogram of", "recid"
            )
        elif len(files) > MAX_FILES:
            raise HistogramQueryError(
                f"record {query.recid} has {len(files):,} ROOT and CSV files, more than one "
                f"request reads ({MAX_FILES}): name one with file",
                "file",
            )
        locations = [self._location(query.recid, f.key) for f in files]
        validated = (
            ValidatedRuns.parse(query.validated_runs) if query.validated_runs is not None else None
        )
        request = HistogramRequest(
            expression=query.expression,
            bins=query.bins,
            range=query.range,
            selection=query.selection,
            tree=query.tree or self._default_tree(locations),
            validated_runs=validated,
        )
        # The bytes a record's file must have are its checksum and size, wherever they are.
        checksums = [f"{f.checksum}/{f.size}" for f in files]
        return HistogramJob(
            query, record.title, [f.key for f in files], locations, checksums, request
        )

    @staticmethod
    def _default_tree(locations: list[str]) -> str:
        """The first of :data:`DEFAULT_TREES` the first ROOT file has (its metadata only is
        read); if it has none, the first, whose error names the trees it has."""
        first = next((loc for loc in locations if not _is_csv(loc)), None)
        if first is None:
            return DEFAULT_TREES[0]
        for tree in DEFAULT_TREES:
            try:
                open_source(first, tree)
            except AnalysisError:
                continue
            return tree
        return DEFAULT_TREES[0]

    def _location(self, recid: str, key: str) -> str:
        """Where the analysis reads the file: a local path, a ``root://`` URL of the XRootD
        store, or its origin's http(s) URL when it is not held here."""
        found = self.portal.record_file(recid, key)
        if isinstance(found, RemoteFile):
            return found.url
        return self.portal.files.location(found)

    def run(
        self,
        job: HistogramJob,
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> HistogramAnswer:
        """The answer of ``job``: from the cache, or run (ExpressionError, AnalysisError,
        AnalysisCancelled, AnalysisTimeout) and kept."""
        key = job.cache_key
        if self._cache is not None:
            kept = self._cache.get(key)
            if kept is not None:
                return HistogramAnswer(job, HistogramResult.from_json(kept), cached=True)
        try:
            result = run_histogram(
                job.locations,
                job.request,
                executor=self.executor,
                progress=progress,
                cancel=cancel,
                timeout=self.settings.analysis_timeout,
            )
        except ExpressionError as exc:
            raise _with_field(exc, job) from None
        if self._cache is not None:
            self._cache.put(key, result.to_json())
        return HistogramAnswer(job, result, cached=False)

    def histogram(
        self,
        query: HistogramQuery,
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> HistogramAnswer:
        """:meth:`prepare` then :meth:`run`."""
        return self.run(self.prepare(query), progress=progress, cancel=cancel)


def _is_csv(location: str) -> bool:
    return location.rsplit("?", 1)[0].lower().endswith(".csv")


def _with_field(exc: ExpressionError, job: HistogramJob) -> ExpressionError:
    """``exc`` with ``field`` set to the part of the request it is about: ``expression``, or
    ``selection`` if the expression compiles against the first file's columns (run_histogram
    compiles both before it reads an event), for the page to show it next to that field."""
    field = "expression"
    if job.request.selection is not None:
        try:
            columns = open_source(job.locations[0], job.request.tree).columns
            compile_expression(job.request.expression, columns, role="value")
            field = "selection"
        except (ExpressionError, AnalysisError):
            pass
    exc.field = field  # type: ignore[attr-defined]
    return exc
