"""Histogram fill and merge, the request's limits, and run_histogram/histogram over the real
samples: chunked = whole file, TTree = RNTuple = CSV of the same events, skipped values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import awkward as ak
import hist
import numpy as np
import pytest
import uproot
from hypothesis import given, settings
from hypothesis import strategies as st

from _analysis import DOUBLEMU_RNTUPLE, NANO_DIMUON, TTBAR, ZMUMU
from openhep.analysis import (
    MAX_BINS,
    AnalysisError,
    ExpressionError,
    HistogramRequest,
    HistogramResult,
    InlineExecutor,
    Progress,
    ValidatedRuns,
    histogram,
    run_histogram,
)
from openhep.analysis._histogram import fill

INLINE = InlineExecutor()


# -- fill -----------------------------------------------------------------------------------


def _numpy_counts(values: np.ndarray, bins: int, lo: float, hi: float) -> list[int]:
    """numpy.histogram's counts with hist's convention for hi itself (overflow)."""
    inside = values[(values >= lo) & (values < hi)]
    counts, _ = np.histogram(inside, bins=bins, range=(lo, hi))
    return [int((values < lo).sum()), *counts.tolist(), int((values >= hi).sum())]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=True, width=64), max_size=200),
    bins=st.integers(1, 50),
    lo=st.floats(-1e6, 1e6),
    width=st.floats(1e-3, 1e6),
)
def test_fill_agrees_with_numpy_histogram(
    values: list[float], bins: int, lo: float, width: float
) -> None:
    hi = lo + width
    if not lo < hi:
        return
    array = np.array(values, dtype=np.float64)
    # Values on and next to every edge, where rounding decides.
    edges = np.linspace(lo, hi, bins + 1)
    array = np.concatenate(
        [array, edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)]
    )
    counts = fill(array, bins, lo, hi)
    assert counts.tolist() == _numpy_counts(array, bins, lo, hi)
    assert counts.sum() == len(array)


def test_fill_puts_hi_in_the_overflow_as_hist_does() -> None:
    counts = fill([0.0, 0.5, 1.0, -1e300, np.inf, -np.inf], 2, 0.0, 1.0)
    assert counts.tolist() == [2, 1, 1, 2]
    h = hist.Hist(hist.axis.Regular(2, 0.0, 1.0))
    h.fill([0.0, 0.5, 1.0, -1e300, np.inf, -np.inf])
    assert h.values(flow=True).tolist() == counts.tolist()


# -- the request ----------------------------------------------------------------------------


def test_request_is_canonical() -> None:
    a = HistogramRequest("MET_pt", 10, (0, 100), selection="  ", tree="Events")
    b = HistogramRequest.from_json({"expression": "MET_pt", "bins": 10, "range": [0.0, 100.0]})
    assert a == b
    assert a.to_json() == {
        "expression": "MET_pt",
        "selection": None,
        "bins": 10,
        "range": [0.0, 100.0],
        "tree": "Events",
        "validated_runs": None,
    }
    runs = HistogramRequest("x", 1, (0, 1), validated_runs={"2": [[3, 4], [1, 2]]})
    assert runs.validated_runs == ValidatedRuns.parse({"2": [[1, 4]]})
    assert runs.to_json()["validated_runs"] == {"2": [[1, 4]]}


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"bins": 0}, "bins"),
        ({"bins": MAX_BINS + 1}, "give fewer bins"),
        ({"bins": True}, "bins"),
        ({"bins": 2.0}, "bins"),
        ({"range": (1, 1)}, "lo must be below hi"),
        ({"range": (2, 1)}, "lo must be below hi"),
        ({"range": (0, math.inf)}, "finite"),
        ({"range": (math.nan, 1)}, "finite"),
        ({"range": (-1e308, 1e308)}, "narrower"),
        ({"range": (0,)}, "two numbers"),
        ({"range": "0,1"}, "two numbers"),
        ({"range": (0, 10**400)}, "finite"),
        ({"expression": ""}, "expression"),
        ({"expression": 3}, "expression"),
        ({"expression": "x" * 20_000}, "longer than"),
        ({"selection": 1}, "selection"),
        ({"tree": ""}, "tree"),
        ({"tree": "a\nb"}, "tree"),
        ({"tree": "t" * 201}, "tree"),
        ({"validated_runs": "[]"}, "validated runs"),
    ],
)
def test_bad_requests_say_what_to_change(fields: dict[str, object], says: str) -> None:
    given_fields: dict[str, object] = {"expression": "x", "bins": 10, "range": (0, 1)} | fields
    with pytest.raises(AnalysisError) as caught:
        HistogramRequest(**given_fields)  # type: ignore[arg-type]
    assert says in caught.value.message


@settings(max_examples=300, deadline=None)
@given(
    body=st.dictionaries(
        st.sampled_from(
            ["expression", "selection", "bins", "range", "tree", "validated_runs", "other"]
        ),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=20)
        | st.lists(st.none() | st.integers() | st.floats() | st.text(max_size=3), max_size=3)
        | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
)
def test_any_request_json_parses_or_is_refused(body: dict[str, object]) -> None:
    try:
        request = HistogramRequest.from_json(body)
    except AnalysisError as exc:
        assert exc.message
        return
    assert 1 <= request.bins <= MAX_BINS
    lo, hi = request.range
    assert math.isfinite(lo) and math.isfinite(hi) and lo < hi
    assert HistogramRequest.from_json(json.loads(json.dumps(request.to_json()))) == request


# -- run_histogram --------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    bins=st.integers(-2, MAX_BINS + 2) | st.booleans() | st.floats() | st.none(),
    lo=st.floats() | st.integers(-(10**400), 10**400),
    hi=st.floats() | st.integers(-(10**400), 10**400),
)
def test_any_bins_and_range_give_counts_or_an_analysis_error(
    samples: Path, bins: object, lo: object, hi: object
) -> None:
    try:
        request = HistogramRequest("MET_pt", bins, (lo, hi))  # type: ignore[arg-type]
    except AnalysisError:
        return
    result = run_histogram([str(samples / NANO_DIMUON)], request, executor=INLINE)
    assert len(result.counts) == request.bins and len(result.edges) == request.bins + 1
    assert result.underflow + sum(result.counts) + result.overflow == result.entries == 40


def _nmuon(samples: Path) -> np.ndarray:
    with uproot.open(samples / NANO_DIMUON) as f:
        return f["Events"]["nMuon"].array(library="np")


def test_counts_equal_numpy_on_a_flat_branch(samples: Path) -> None:
    request = HistogramRequest("nMuon", 5, (0, 5))
    result = run_histogram([str(samples / NANO_DIMUON)], request, executor=INLINE)
    nmuon = _nmuon(samples)
    expected = _numpy_counts(nmuon.astype(np.float64), 5, 0, 5)
    assert [result.underflow, *result.counts, result.overflow] == expected
    assert result.sumw2 == result.counts
    assert result.edges == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert result.entries == result.events_read == 40
    assert result.skipped == 0


def test_chunked_equals_whole_file(samples: Path) -> None:
    files = [str(samples / NANO_DIMUON)]
    request = HistogramRequest("Muon_pt", 30, (0, 150), selection="nMuon >= 1")
    whole = run_histogram(files, request, executor=INLINE)
    seen: list[Progress] = []
    chunked = run_histogram(files, request, executor=INLINE, chunk_entries=3, progress=seen.append)
    assert _same_counts(whole, chunked)
    assert [p.chunks_done for p in seen] == list(range(1, 15))
    assert {p.chunks_total for p in seen} == {14}
    assert seen[-1].events_read == seen[-1].events_total == 40
    # Per-object values: every muon of the selected events is filled.
    with uproot.open(samples / NANO_DIMUON) as f:
        pt = f["Events"]["Muon_pt"].array()
    assert whole.entries == int(ak.sum(ak.num(pt)))


def test_ttree_rntuple_and_chunks_agree(samples: Path, doublemu_ttree: Path) -> None:
    request = HistogramRequest("Muon_eta", 40, (-2.5, 2.5), selection="nMuon == 2")
    rntuple = run_histogram([str(samples / DOUBLEMU_RNTUPLE)], request, executor=INLINE)
    ttree = run_histogram([str(doublemu_ttree)], request, executor=INLINE, chunk_entries=333)
    assert _same_counts(rntuple, ttree)
    assert rntuple.events_read == ttree.events_read == 1000
    assert sum(rntuple.counts) > 1000


def test_files_add_up(samples: Path, doublemu_ttree: Path) -> None:
    request = HistogramRequest("nMuon", 10, (0, 10))
    one = run_histogram([str(doublemu_ttree)], request, executor=INLINE)
    two = run_histogram(
        [str(doublemu_ttree), str(samples / DOUBLEMU_RNTUPLE)], request, executor=INLINE
    )
    assert two.counts == [2 * c for c in one.counts]
    assert two.events_read == 2000


def test_csv_equals_the_root_file_it_came_from(samples: Path, zmumu_csv: Path) -> None:
    request = HistogramRequest("M", 60, (60, 120), selection="Q1 != Q2", tree="events")
    root = run_histogram([str(samples / ZMUMU)], request, executor=INLINE)
    csv = run_histogram([str(zmumu_csv)], request, executor=INLINE, chunk_entries=500)
    assert _same_counts(root, csv)
    assert root.events_read == csv.events_read == 2304


def test_skipped_counts_the_events_whose_value_cannot_be_computed(samples: Path) -> None:
    request = HistogramRequest("Muon_pt[1]", 10, (0, 100))
    result = run_histogram([str(samples / NANO_DIMUON)], request, executor=INLINE)
    nmuon = _nmuon(samples)
    assert result.skipped == int((nmuon < 2).sum()) > 0
    assert result.entries == int((nmuon >= 2).sum())
    # Skipped events are counted only among the selected ones.
    selected = run_histogram(
        [str(samples / NANO_DIMUON)],
        HistogramRequest("Muon_pt[1]", 10, (0, 100), selection="nMuon >= 1"),
        executor=INLINE,
    )
    assert selected.skipped == int((nmuon == 1).sum())


def test_nan_values_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "nan.csv"
    path.write_text("x\n1.5\nnan\n2.5\n\n")
    result = run_histogram([str(path)], HistogramRequest("x", 4, (0, 4)), executor=INLINE)
    assert result.counts == [0.0, 1.0, 1.0, 0.0]
    assert result.skipped == 1
    assert result.events_read == 3


def test_validated_runs_drop_exactly_the_events_outside(samples: Path) -> None:
    files = [samples / NANO_DIMUON, samples / TTBAR]
    parts = []
    for path in files:
        with uproot.open(path) as f:
            parts.append(f["Events"].arrays(["run", "luminosityBlock", "nMuon"], library="np"))
    run = np.concatenate([p["run"] for p in parts])
    lumi = np.concatenate([p["luminosityBlock"] for p in parts])
    nmuon = np.concatenate([p["nMuon"] for p in parts])
    # nano_dimuon's one section (run 315267), and every other section of the simulation's.
    sections = np.unique(parts[1]["luminosityBlock"])[::2]
    golden = {
        str(int(parts[0]["run"][0])): [[int(parts[0]["luminosityBlock"][0])] * 2],
        str(int(parts[1]["run"][0])): [[int(s), int(s)] for s in sections],
    }
    inside = (run == parts[0]["run"][0]) | ((run == parts[1]["run"][0]) & np.isin(lumi, sections))
    assert 40 < inside.sum() < 240
    request = HistogramRequest("nMuon", 10, (0, 10), validated_runs=ValidatedRuns.parse(golden))
    result = run_histogram([str(p) for p in files], request, executor=INLINE, chunk_entries=17)
    assert result.entries == int(inside.sum())
    assert result.events_read == 240
    expected = _numpy_counts(nmuon[inside].astype(np.float64), 10, 0, 10)
    assert [result.underflow, *result.counts, result.overflow] == expected


def test_validated_runs_need_run_and_lumi_branches(samples: Path, zmumu_csv: Path) -> None:
    request = HistogramRequest("M", 10, (0, 100), validated_runs={"148031": [[1, 1000]]})
    with pytest.raises(AnalysisError, match="luminosityBlock"):
        run_histogram([str(zmumu_csv)], request, executor=INLINE)


def test_expression_errors_come_before_anything_runs(samples: Path) -> None:
    with pytest.raises(ExpressionError) as caught:
        run_histogram(
            [str(samples / NANO_DIMUON)], HistogramRequest("Muon_ptt", 10, (0, 1)), executor=INLINE
        )
    assert "Muon_pt" in caught.value.names


def test_files_of_different_kinds_are_refused(samples: Path, zmumu_csv: Path) -> None:
    request = HistogramRequest("nMuon", 10, (0, 10))
    with pytest.raises(AnalysisError, match="has no 'nMuon'"):
        run_histogram([str(samples / NANO_DIMUON), str(zmumu_csv)], request, executor=INLINE)
    with pytest.raises(AnalysisError, match="no file"):
        run_histogram([], request, executor=INLINE)


def test_histogram_gives_a_hist_with_metadata(samples: Path) -> None:
    h = histogram(str(samples / NANO_DIMUON), "nMuon", bins=5, range=(0, 5), executor=INLINE)
    assert isinstance(h, hist.Hist)
    nmuon = _nmuon(samples)
    expected = _numpy_counts(nmuon.astype(np.float64), 5, 0, 5)
    assert h.values(flow=True).tolist() == expected
    assert h.variances(flow=True).tolist() == expected
    assert h.metadata["events_read"] == 40
    assert h.metadata["entries"] == 40
    assert h.metadata["skipped"] == 0
    assert h.axes[0].label == "nMuon"


def test_result_json_round_trip(samples: Path) -> None:
    result = run_histogram(
        [str(samples / NANO_DIMUON)], HistogramRequest("MET_pt", 8, (0, 80)), executor=INLINE
    )
    answer = result.to_json()
    assert set(answer) == {
        "edges", "counts", "sumw2", "entries", "underflow", "overflow", "skipped",
        "events_read", "seconds",
    }  # fmt: skip
    assert HistogramResult.from_json(json.loads(json.dumps(answer))) == result


def _same_counts(a: HistogramResult, b: HistogramResult) -> bool:
    keys = ("edges", "counts", "sumw2", "entries", "underflow", "overflow", "skipped",
            "events_read")  # fmt: skip
    return all(a.to_json()[k] == b.to_json()[k] for k in keys)


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 5e-324), (-1e307, 1e307), (1e15, 1e15 + 1)])
def test_fill_on_extreme_ranges_counts_every_value(lo: float, hi: float) -> None:
    values = np.array([lo, hi, -np.inf, np.inf, (lo + hi) / 2, np.nextafter(hi, -np.inf)])
    counts = fill(values, 7, lo, hi)
    assert counts.sum() == len(values)
    assert counts[0] == 1 and counts[-1] == 2  # -inf below; hi and +inf above
