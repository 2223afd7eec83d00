"""Did you mean: queries written back from their trees, and suggestions that always find records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import tantivy
from hypothesis import given, settings
from hypothesis import strategies as st

from _records import record
from openhep.model import validate_record
from openhep.search import SearchRequest
from openhep.search._query import MAX_QUERY_LENGTH, QuerySyntaxError, build, parse, to_text
from openhep.search._suggest import MAX_PROBES, _Suggester, edit_distance, suggest
from openhep.services import Portal

# -- trees written back as queries -------------------------------------------------------------

_PIECES = [
    "title:", "energy:", "year:", "recid:", "doi:", "files.uri:", "(", ")", "AND", "OR", "NOT",
    "&&", "||", "-", "+", "!", "muon", "Higgs", "13TeV", "2012", '"higgs boson"', '"a \\" b"',
    "[1 TO 5]", "{2010 TO *]", ">=2011", "<2011", "*", "mu*", "?", "\\", ":", "*:*", "a\\:b",
    "\\AND", "\\-x", "\\(", "\\ ", "<b>", "[", "{", "Run2012*-22Jan", "10.7483/OPENDATA.CMS.A342",
]  # fmt: skip


def _round_trips(text: str) -> None:
    try:
        tree = parse(text)
    except QuerySyntaxError:
        return
    written = to_text(tree)
    try:
        assert parse(written) == tree, written
    except QuerySyntaxError:
        # Writing a field out for each of its values ('title:(a OR b)') can make a query
        # longer than a query may be; nothing else may stop it from parsing back.
        assert len(written) > MAX_QUERY_LENGTH


@pytest.mark.parametrize(
    "text",
    [
        "higgs muon", "a OR b c", "NOT a b", "+a -b", "title:(a OR b)", '"a \\"q\\" w"',
        "a\\:b", "a\\*b*", "year:>=2010", "year:<2010", "*:*", "\\AND", "-(a OR b)", "(a b) c",
        "a OR (b OR c)", "doi:10.7483/OPENDATA.CMS.A342.9982", "Run2012B-22Jan2013",
        "energy:(7TeV OR 8TeV) -type:Dataset", "--a", "title:\\<b\\>", "a\\ b", "\\[1",
    ],
)  # fmt: skip
def test_a_tree_written_back_parses_to_itself(text: str) -> None:
    _round_trips(text)


@settings(max_examples=400, deadline=None)
@given(
    pieces=st.lists(st.tuples(st.sampled_from(_PIECES), st.sampled_from(["", " "])), max_size=14)
)
def test_any_query_written_back_parses_to_itself(pieces: list[tuple[str, str]]) -> None:
    _round_trips("".join(piece + gap for piece, gap in pieces))


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=80))
def test_any_text_written_back_parses_to_itself(text: str) -> None:
    _round_trips(text)


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("muon", "muon", 0), ("muonn", "muon", 1), ("csm", "cms", 1), ("hggs", "higgs", 1),
     ("experimnet", "experiment", 1), ("abc", "xyz", 3), ("", "abc", 3), ("ab", "ba", 1)],
)  # fmt: skip
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b, 5) == distance
    assert edit_distance(b, a, 5) == distance
    assert edit_distance(a, b, distance - 1) == distance if distance else True


# -- suggestions on the real records -----------------------------------------------------------


def test_work_is_bounded_however_many_words_miss(
    index: tantivy.Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Words under a field that does not hold them, each of which alone costs many searches.
    words = "cms atlas alice lhcb muon electron photon jet higgs opera"
    tree = parse(" ".join(f"keywords:{word}" for word in words.split()))
    searcher = index.searcher()
    suggester = _Suggester(index, searcher, tantivy.Query.all_query())
    found = suggester.suggest(tree)
    assert suggester.probes <= MAX_PROBES
    for suggestion in found:  # what the budget allowed still finds records
        assert searcher.search(build(suggestion.q, index), 1, count=True).count == suggestion.total
        assert suggestion.total > 0
    monkeypatch.setattr("openhep.search._suggest.MAX_PROBES", 10 * MAX_PROBES)
    unbounded = _Suggester(index, searcher, tantivy.Query.all_query())
    unbounded.suggest(tree)
    assert unbounded.probes > MAX_PROBES  # the bound is what stopped the first


_MISSPELLED = ["muonn", "hggs", "experiment:CSM", "keywords:CMS", "Experiment:opera", "triboson",
               "titel:muon", "adler32", '"higgs bosn"', "elektron", "files.uri:muon"]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    pieces=st.lists(
        st.tuples(st.sampled_from([*_PIECES, *_MISSPELLED]), st.sampled_from(["", " "])),
        max_size=8,
    )
)
def test_every_suggestion_parses_and_finds_what_it_says(
    index: tantivy.Index, pieces: list[tuple[str, str]]
) -> None:
    try:
        tree = parse("".join(piece + gap for piece, gap in pieces))
    except QuerySyntaxError:
        return
    searcher = index.searcher()
    for suggestion in suggest(tree, index, searcher, tantivy.Query.all_query()):
        assert searcher.search(build(suggestion.q, index), 1, count=True).count == suggestion.total
        assert suggestion.total > 0


def test_a_query_finding_records_through_a_negation_has_no_suggestion(
    index: tantivy.Index,
) -> None:
    assert suggest(parse("-muon"), index, index.searcher(), tantivy.Query.all_query()) == []
    assert suggest(parse("*:*"), index, index.searcher(), tantivy.Query.all_query()) == []


# -- suggestions never reveal what a search may not show ---------------------------------------


def test_embargoed_records_suggest_nothing_until_released(portal: Portal) -> None:
    file = {"uri": "root://eospublic.cern.ch//eos/opendata/cms/tetraquark.root", "size": 1,
            "checksum": "adler32:00000001"}  # fmt: skip
    portal.catalog.write(
        [
            validate_record(record("1", "Dimuon spectrum")),
            validate_record(
                record("2", "Pentaquark search", release_date="2026-12-01", files=[file])
            ),
        ]
    )
    before = datetime(2026, 11, 30, tzinfo=UTC)
    after = datetime(2026, 12, 1, tzinfo=UTC)
    for q in ("pentaquarks", "tetraquark", "keywords:pentaquark"):
        assert portal.search(SearchRequest(q=q), now=before).suggestions == [], q
    expected = {
        "pentaquarks": "pentaquark",  # one letter away
        "tetraquark": "files.uri:tetraquark",  # only in a file's URI
        "keywords:pentaquark": "title:pentaquark",  # in another field
    }
    for q, suggested in expected.items():
        result = portal.search(SearchRequest(q=q), now=after)
        assert result.total == 0
        assert [s.q for s in result.suggestions][:1] == [suggested], q
        for s in result.suggestions:
            assert portal.search(SearchRequest(q=s.q), now=after).total == s.total > 0


def test_suggestions_keep_the_filters(portal: Portal) -> None:
    portal.catalog.write(
        [
            validate_record(record("1", "Dimuon spectrum", experiment=["CMS"])),
            validate_record(record("2", "Dielectron spectrum", experiment=["ATLAS"])),
        ]
    )
    assert [s.q for s in portal.search(SearchRequest(q="dimuonn")).suggestions] == ["dimuon"]
    # Dimuon is a CMS record's word: with ATLAS chosen it would find nothing, so it is not offered.
    atlas = SearchRequest(q="dimuonn", filters={"experiment": ["ATLAS"]})
    assert portal.search(atlas).suggestions == []
    atlas = SearchRequest(q="dielectronn", filters={"experiment": ["ATLAS"]})
    suggested = portal.search(atlas).suggestions
    assert [(s.q, s.total) for s in suggested] == [("dielectron", 1)]
