"""The histogram service: reading requests strictly (fuzzed: a query or a
``HistogramQueryError`` naming the field, nothing else), and resolving a record's files to the
locations the analysis reads — held here (a path), and the answer of a job cancelled partway.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _services.analysis import MANY, MANY_FILES, ZMUMU_CSV, ZMUMU_ROOT, build_analysis_home
from openhep.analysis import AnalysisCancelled, Progress
from openhep.services import Analyst, HistogramQuery, HistogramQueryError, Portal
from openhep.settings import Settings

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2),
)  # fmt: skip
FIELDS = st.sampled_from(
    ["recid", "file", "tree", "expression", "selection", "bins", "range", "validated_runs", "x"]
)


@given(st.one_of(VALUES, st.dictionaries(FIELDS, VALUES, max_size=9)))
def test_any_json_body_is_a_query_or_says_what_to_change(body: Any) -> None:
    try:
        query = HistogramQuery.from_json(body)
    except HistogramQueryError as exc:
        assert exc.message
        assert exc.to_json()["error"] == exc.message
        return
    assert 1 <= query.bins <= 10_000
    low, high = query.range
    assert math.isfinite(low) and math.isfinite(high) and low < high
    assert query.expression and len(query.expression) <= 1000


@given(st.dictionaries(st.sampled_from(["recid", "expression", "bins", "lo", "hi", "file",
                                        "tree", "selection", "format", "q"]),
                       st.text(max_size=12), max_size=10))  # fmt: skip
def test_any_query_string_is_a_query_or_says_what_to_change(params: dict[str, str]) -> None:
    try:
        query = HistogramQuery.from_params(params, also=("format",))
    except HistogramQueryError as exc:
        assert exc.field
        return
    assert HistogramQuery.from_params(query.to_params()) == query


def test_a_query_round_trips_through_its_parameters() -> None:
    query = HistogramQuery.from_json(
        {
            "recid": 990004,
            "expression": "M",
            "selection": "Q1 != Q2",
            "bins": "60",
            "range": [60, 120.5],
            "tree": "events",
        }
    )
    assert query.recid == "990004" and query.bins == 60
    assert query.to_params() == {
        "recid": "990004", "tree": "events", "expression": "M", "selection": "Q1 != Q2",
        "bins": "60", "lo": "60", "hi": "120.5",
    }  # fmt: skip
    assert HistogramQuery.from_params(query.to_params()) == query


@pytest.fixture(scope="module")
def analyst(
    codp_dir: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Analyst]:
    home = build_analysis_home(tmp_path_factory.mktemp("analyst"), codp_dir, anchors)
    settings = Settings(home=home, file_origins="")
    portal = Portal.open(settings)
    service = Analyst(portal, settings)
    yield service
    service.close()
    portal.close()


def test_files_held_here_are_read_from_their_path(analyst: Analyst) -> None:
    job = analyst.prepare(
        HistogramQuery.build(recid=ZMUMU_ROOT, expression="M", bins=10, lo=0, hi=1)
    )
    (location,) = job.locations
    assert Path(location).is_file() and location.endswith("/uproot-Zmumu.root")
    assert job.keys == ["uproot-Zmumu.root"]
    assert job.request.tree == "events"  # none named: the education samples' name
    many = analyst.prepare(HistogramQuery.build(recid=MANY, expression="nMuon", bins=5, lo=0, hi=5))
    assert len(many.locations) == MANY_FILES
    # The same bytes under other keys: one cache key per content and request, whatever the keys.
    assert len(set(many.checksums)) == 1


def test_the_cache_key_follows_the_content_and_the_request(analyst: Analyst) -> None:
    def key(**fields: Any) -> str:
        base: dict[str, Any] = {"recid": ZMUMU_CSV, "expression": "M", "bins": 10, "lo": 0,
                                "hi": 1}  # fmt: skip
        return analyst.prepare(HistogramQuery.build(**(base | fields))).cache_key

    assert key() == key()
    assert len({key(), key(bins=11), key(expression="M + 0"), key(selection="M > 1")}) == 4


def test_a_job_cancelled_partway_stops(analyst: Analyst) -> None:
    cancel = threading.Event()
    seen: list[Progress] = []

    def progress(at: Progress) -> None:
        seen.append(at)
        cancel.set()  # as a client that goes away after the first chunk

    job = analyst.prepare(HistogramQuery.build(recid=MANY, expression="nMuon", bins=7, lo=0, hi=7))
    with pytest.raises(AnalysisCancelled):
        analyst.run(job, progress=progress, cancel=cancel)
    assert seen and seen[-1].chunks_done < seen[-1].chunks_total
