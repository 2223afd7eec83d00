"""Validated runs (golden JSON): strict parsing, and the mask over real run/lumi values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _analysis import NANO_DIMUON, TTBAR
from openhep.analysis import AnalysisError, ValidatedRuns


def _run_lumi(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import uproot

    with uproot.open(path) as f:
        events = f["Events"].arrays(["run", "luminosityBlock"], library="np")
    return events["run"], events["luminosityBlock"]


def test_mask_keeps_exactly_the_certified_sections(samples: Path) -> None:
    # The real values: nano_dimuon's 40 events lie in one section of run 315267; the 2015
    # NanoAOD's 200 in six sections of run 1.
    dimuon_run, dimuon_lumi = _run_lumi(samples / NANO_DIMUON)
    ttbar_run, ttbar_lumi = _run_lumi(samples / TTBAR)
    run = np.concatenate([dimuon_run, ttbar_run])
    lumi = np.concatenate([dimuon_lumi, ttbar_lumi])
    (dimuon_section,) = np.unique(dimuon_lumi)
    sections = np.unique(ttbar_lumi)
    assert len(sections) >= 3, "the sample's shape changed"
    kept = sections[::2]
    golden = {
        str(int(dimuon_run[0])): [[int(dimuon_section), int(dimuon_section)]],
        str(int(ttbar_run[0])): [[int(s), int(s)] for s in kept],
        "999999": [[1, 10_000]],
    }
    runs = ValidatedRuns.parse(json.dumps(golden))
    expected = (run == dimuon_run[0]) | ((run == ttbar_run[0]) & np.isin(lumi, kept))
    mask = runs.mask(run, lumi)
    assert mask.dtype == np.bool_
    assert np.array_equal(mask, expected)  # counted independently of the mask
    assert 40 < mask.sum() < len(run)
    # Certifying the sections around nano_dimuon's, not its own, drops all its events.
    around = ValidatedRuns.parse(
        {str(int(dimuon_run[0])): [[1, int(dimuon_section) - 1], [int(dimuon_section) + 1, 10**6]]}
    )
    assert not around.mask(dimuon_run, dimuon_lumi).any()


def test_ranges_are_inclusive_and_merged() -> None:
    runs = ValidatedRuns.parse({"100": [[5, 7], [1, 2], [3, 4], [20, 30], [25, 40]]})
    assert runs.to_json() == {"100": [[1, 7], [20, 40]]}
    run = np.array([100] * 8 + [101], dtype=np.uint32)
    lumi = np.array([0, 1, 7, 8, 19, 20, 40, 41, 5], dtype=np.uint32)
    assert runs.mask(run, lumi).tolist() == [0, 1, 1, 0, 0, 1, 1, 0, 0]


def test_parse_accepts_text_bytes_objects_and_itself() -> None:
    text = '{"315267": [[1, 100]], "1": [[2, 3]]}'
    parsed = ValidatedRuns.parse(text)
    assert ValidatedRuns.parse(text.encode()) == parsed
    assert ValidatedRuns.parse(json.loads(text)) == parsed
    assert ValidatedRuns.parse(parsed) is parsed
    assert list(parsed.to_json()) == ["1", "315267"]  # canonical order


def test_empty_object_certifies_nothing() -> None:
    runs = ValidatedRuns.parse("{}")
    assert not runs.mask(np.array([1, 2]), np.array([1, 1])).any()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("[1, 2]", "expected a JSON object"),
        ("not json", "not JSON"),
        ('{"abc": [[1, 2]]}', "whole number"),
        ('{"-1": [[1, 2]]}', "whole number"),
        ('{"1.5": [[1, 2]]}', "whole number"),
        ('{"99999999999": [[1, 2]]}', "whole number"),
        ('{"4294967296": [[1, 2]]}', "above"),
        ('{"1": [[1, 2]], "1": [[3, 4]]}', "given twice"),
        ('{"1": [[1, 2]], "01": [[3, 4]]}', "given twice"),
        ('{"1": [1, 2]}', "expected [first, last]"),
        ('{"1": [[1, 2, 3]]}', "expected [first, last]"),
        ('{"1": [[1.0, 2]]}', "expected [first, last]"),
        ('{"1": [[true, 2]]}', "expected [first, last]"),
        ('{"1": [[3, 2]]}', "first <= last"),
        ('{"1": [[-1, 2]]}', "first <= last"),
        ('{"1": [[1, 4294967296]]}', "first <= last"),
        ('{"1": {"a": 1}}', "expected a list"),
        ('{"1": null}', "expected a list"),
        (b"\xff\xfe", "not UTF-8"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
        (None, "expected a JSON object"),
        (42, "expected a JSON object"),
    ],
)
def test_bad_golden_json_says_what_to_change(value: object, says: str) -> None:
    with pytest.raises(AnalysisError) as caught:
        ValidatedRuns.parse(value)
    assert says in caught.value.message
    assert caught.value.to_json() == {"error": caught.value.message}


def test_size_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from openhep.analysis import _runs

    with pytest.raises(AnalysisError, match="larger than"):
        ValidatedRuns.parse(" " * (_runs.MAX_VALIDATED_RUNS_BYTES + 1))
    monkeypatch.setattr(_runs, "MAX_RANGES", 10)
    monkeypatch.setattr(_runs, "MAX_RUNS", 3)
    with pytest.raises(AnalysisError, match="more than 10 ranges"):
        ValidatedRuns.parse({"1": [[i, i] for i in range(11)]})
    with pytest.raises(AnalysisError, match="more than 10 ranges"):
        ValidatedRuns.parse({str(r): [[1, 1]] * 4 for r in range(3)})
    with pytest.raises(AnalysisError, match="more than 3 runs"):
        ValidatedRuns.parse({str(r): [] for r in range(4)})


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_json)
def test_any_json_parses_or_is_refused_with_a_message(value: object) -> None:
    try:
        runs = ValidatedRuns.parse(json.dumps(value))
    except AnalysisError as exc:
        assert exc.message.startswith("validated runs:")
        return
    # What parses is canonical: parsing its JSON again gives the same thing.
    assert ValidatedRuns.parse(runs.to_json()) == runs


@settings(max_examples=200, deadline=None)
@given(
    ranges=st.dictionaries(
        st.integers(0, 2**32 - 1),
        st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=5),
        max_size=4,
    ),
    events=st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 60)), max_size=50),
)
def test_mask_agrees_with_a_plain_loop(
    ranges: dict[int, list[tuple[int, int]]], events: list[tuple[int, int]]
) -> None:
    golden = {str(r): [[min(a, b), max(a, b)] for a, b in pairs] for r, pairs in ranges.items()}
    runs = ValidatedRuns.parse(golden)
    run = np.array([e[0] for e in events], dtype=np.uint32)
    lumi = np.array([e[1] for e in events], dtype=np.uint32)
    expected = [any(a <= ls <= b for a, b in golden.get(str(r), [])) for r, ls in events]
    assert runs.mask(run, lumi).tolist() == expected
