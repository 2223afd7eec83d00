"""What a histogram job is asked (HistogramRequest), what it answers (HistogramResult) and
how far it has got (Progress): validated at construction, canonical as JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openhep.analysis._errors import AnalysisError
from openhep.analysis._runs import ValidatedRuns

if TYPE_CHECKING:
    import hist

#: The most bins a histogram may have (the API's limit).
MAX_BINS = 10_000
#: The longest tree (or RNTuple) name accepted.
MAX_TREE_LENGTH = 200
#: Expression and selection texts longer than this are refused before any parsing (the
#: expression language has its own, lower, limit: this one only bounds what is carried).
MAX_TEXT_LENGTH = 10_000
#: The request keys of the JSON form (the API's body without recid and file).
REQUEST_KEYS = frozenset({"expression", "selection", "bins", "range", "tree", "validated_runs"})


@dataclass(frozen=True)
class HistogramRequest:
    """One histogram: ``expression`` filled into ``bins`` equal bins over ``range`` for the
    events where ``selection`` holds (all if None) and that lie in ``validated_runs``."""

    expression: str
    bins: int
    range: tuple[float, float]
    selection: str | None = None
    tree: str = "Events"
    validated_runs: ValidatedRuns | None = None

    def __post_init__(self) -> None:
        _text("expression", self.expression)
        if self.selection is not None:
            _text("selection", self.selection)
            if not self.selection.strip():
                # An empty selection means "no selection": one canonical form for cache keys.
                object.__setattr__(self, "selection", None)
        if not isinstance(self.expression, str) or not self.expression.strip():
            raise AnalysisError("expression: give what to histogram, e.g. 'MET_pt'")
        if not isinstance(self.bins, int) or isinstance(self.bins, bool):
            raise AnalysisError(f"bins: give a whole number from 1 to {MAX_BINS:,}")
        if not 1 <= self.bins <= MAX_BINS:
            raise AnalysisError(f"bins: {self.bins} is not from 1 to {MAX_BINS:,}; give fewer bins")
        object.__setattr__(self, "range", _range(self.range))
        if (
            not isinstance(self.tree, str)
            or not self.tree
            or len(self.tree) > MAX_TREE_LENGTH
            or not self.tree.isprintable()
        ):
            raise AnalysisError(
                f"tree: give the name of a TTree or RNTuple (at most {MAX_TREE_LENGTH}"
                " printable characters), e.g. 'Events'"
            )
        if self.validated_runs is not None and not isinstance(self.validated_runs, ValidatedRuns):
            object.__setattr__(self, "validated_runs", ValidatedRuns.parse(self.validated_runs))

    @classmethod
    def from_json(cls, value: object) -> HistogramRequest:
        """A request from its JSON form (the API body's analysis keys); unknown keys and wrong
        types → AnalysisError."""
        if not isinstance(value, Mapping):
            raise AnalysisError("expected a JSON object with expression, bins and range")
        unknown = sorted(str(k)[:40] for k in value if k not in REQUEST_KEYS)
        if unknown:
            raise AnalysisError(
                f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(REQUEST_KEYS))}"
            )
        missing = [k for k in ("expression", "bins", "range") if k not in value]
        if missing:
            raise AnalysisError(f"missing {', '.join(missing)}")
        selection = value.get("selection")
        if selection is not None and not isinstance(selection, str):
            raise AnalysisError("selection: give a text, or leave it out")
        runs = value.get("validated_runs")
        tree = value.get("tree")
        return cls(
            expression=value["expression"],
            bins=value["bins"],
            range=value["range"],
            selection=selection,
            tree="Events" if tree is None else tree,
            validated_runs=None if runs is None else ValidatedRuns.parse(runs),
        )

    def to_json(self) -> dict[str, Any]:
        """The canonical form: the same request always gives the same JSON (cache keys)."""
        return {
            "expression": self.expression,
            "selection": self.selection,
            "bins": self.bins,
            "range": [self.range[0], self.range[1]],
            "tree": self.tree,
            "validated_runs": (
                None if self.validated_runs is None else self.validated_runs.to_json()
            ),
        }

    @property
    def edges(self) -> list[float]:
        """The ``bins + 1`` bin edges (as ``numpy.linspace`` gives them)."""
        import numpy as np

        lo, hi = self.range
        return [float(x) for x in np.linspace(lo, hi, self.bins + 1)]


def _text(what: str, value: object) -> None:
    if not isinstance(value, str):
        raise AnalysisError(f"{what}: give a text, got {type(value).__name__}")
    if len(value) > MAX_TEXT_LENGTH:
        raise AnalysisError(f"{what}: longer than {MAX_TEXT_LENGTH:,} characters; shorten it")


def _range(value: object) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
    ):
        raise AnalysisError("range: give two numbers [lo, hi]")
    try:
        lo, hi = float(value[0]), float(value[1])
    except OverflowError:  # an integer beyond a float's reach
        raise AnalysisError("range: give two finite numbers [lo, hi]") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise AnalysisError("range: give two finite numbers [lo, hi]")
    if not lo < hi:
        raise AnalysisError(f"range: lo must be below hi, got [{lo:g}, {hi:g}]")
    if not math.isfinite(hi - lo):
        raise AnalysisError("range: hi - lo is beyond a float's reach; give a narrower range")
    return lo, hi


@dataclass(frozen=True)
class HistogramResult:
    """Counts per bin and what else a user needs to trust them. ``entries`` counts every
    value filled (underflow and overflow included); ``skipped`` the selected events (or
    objects, for a per-object expression) whose value could not be computed (None or NaN);
    ``events_read`` every event read, before any selection."""

    edges: list[float]
    counts: list[float]
    sumw2: list[float]
    entries: int
    underflow: float
    overflow: float
    skipped: int
    events_read: int
    seconds: float
    #: Not part of the answer: what the ``hist.Hist`` is labelled with.
    label: str = field(default="", compare=False)

    def to_json(self) -> dict[str, Any]:
        """Exactly the API's answer keys."""
        return {
            "edges": list(self.edges),
            "counts": list(self.counts),
            "sumw2": list(self.sumw2),
            "entries": self.entries,
            "underflow": self.underflow,
            "overflow": self.overflow,
            "skipped": self.skipped,
            "events_read": self.events_read,
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> HistogramResult:
        """Back from ``to_json`` (the result cache)."""
        return cls(
            edges=[float(x) for x in value["edges"]],
            counts=[float(x) for x in value["counts"]],
            sumw2=[float(x) for x in value["sumw2"]],
            entries=int(value["entries"]),
            underflow=float(value["underflow"]),
            overflow=float(value["overflow"]),
            skipped=int(value["skipped"]),
            events_read=int(value["events_read"]),
            seconds=float(value["seconds"]),
        )

    def to_hist(self) -> hist.Hist[Any]:
        """A ``hist.Hist`` (Weight storage, flow bins filled); entries, skipped, events_read
        and seconds in its ``metadata``."""
        import hist
        import numpy as np

        bins = len(self.counts)
        axis = hist.axis.Regular(
            bins, self.edges[0], self.edges[-1], name="x", label=self.label or "x"
        )
        histogram = hist.Hist(axis, storage=hist.storage.Weight())
        values = np.array([self.underflow, *self.counts, self.overflow], dtype=np.float64)
        # Unweighted fills: the variance of the flow bins is their count, as in the bins.
        variances = np.array([self.underflow, *self.sumw2, self.overflow], dtype=np.float64)
        view: Any = histogram.view(flow=True)  # a WeightedSumView: .value, .variance
        view.value = values
        view.variance = variances
        histogram.metadata = {
            "entries": self.entries,
            "skipped": self.skipped,
            "events_read": self.events_read,
            "seconds": self.seconds,
        }
        return histogram


@dataclass(frozen=True)
class Progress:
    """How far a job has got, reported each time a chunk finishes."""

    chunks_done: int
    chunks_total: int
    events_read: int
    events_total: int

    def to_json(self) -> dict[str, int]:
        return {
            "chunks_done": self.chunks_done,
            "chunks_total": self.chunks_total,
            "events_read": self.events_read,
            "events_total": self.events_total,
        }
