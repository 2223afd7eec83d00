"""The query language against a real index of the CODP records, with counts computed from JSON."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import tantivy
from hypothesis import given, settings
from hypothesis import strategies as st

from _services.jsontext import strings
from openhep.search._query import (
    MAX_CLAUSES,
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    MAX_WILDCARDS,
    And,
    MatchAll,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    Range,
    Term,
    build,
    compile_query,
    parse,
    wildcard_count,
)

Record = dict[str, Any]


# -- the index and independent answers ---------------------------------------------------------


@pytest.fixture(scope="module")
def searcher(index: tantivy.Index) -> tantivy.Searcher:
    return index.searcher()


@pytest.fixture(scope="module")
def search(
    index: tantivy.Index, searcher: tantivy.Searcher, codp_records: list[Record]
) -> Callable[[str], set[str]]:
    """The recids a query finds (all of them, not a first page)."""

    def run(text: str) -> set[str]:
        result = searcher.search(build(text, index), len(codp_records))
        found = {searcher.doc(address).get_first("recid") for _, address in result.hits}
        assert len(found) == result.count
        return {str(recid) for recid in found}

    return run


def words(text: str) -> list[str]:
    # tantivy's default tokenizer on ASCII text: split on non-alphanumerics, lower-case.
    return [w for w in re.split(r"[^0-9A-Za-z]+", text.lower()) if w]


def has_phrase(text: str, phrase: list[str]) -> bool:
    found = words(text)
    return any(found[i : i + len(phrase)] == phrase for i in range(len(found)))


def recids(records: list[Record], keep: Callable[[Record], bool]) -> set[str]:
    return {r["recid"] for r in records if keep(r)}


def years(record: Record) -> set[int]:
    return {int(v[:4]) for v in record.get("date_created") or [] if re.match(r"\d{4}", v)}


def number_events(record: Record) -> int | None:
    value: int | None = (record.get("distribution") or {}).get("number_events")
    return value


# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("higgs muon", And((Term(None, "higgs"), Term(None, "muon")))),
        ("a OR b c", Or((Term(None, "a"), And((Term(None, "b"), Term(None, "c")))))),
        ("a OR b AND c", Or((Term(None, "a"), And((Term(None, "b"), Term(None, "c")))))),
        ("NOT a b", And((Not(Term(None, "a")), Term(None, "b")))),
        ("a || b && !c", Or((Term(None, "a"), And((Term(None, "b"), Not(Term(None, "c"))))))),
        ("+a -b", And((Term(None, "a"), Not(Term(None, "b"))))),
        ("a and b", And((Term(None, "a"), Term(None, "and"), Term(None, "b")))),
        ("from TO to", And((Term(None, "from"), Term(None, "TO"), Term(None, "to")))),
        ("Run2012B-22Jan2013", Term(None, "Run2012B-22Jan2013")),
        ('"a \\"quoted\\" word"', Phrase(None, 'a "quoted" word')),
        ("title:(a OR b)", Or((Term("title", "a"), Term("title", "b")))),
        ("title:(a -experiment:b)", And((Term("title", "a"), Not(Term("experiment", "b"))))),
        ('title:"Higgs boson"', Phrase("title", "Higgs boson")),
        ("energy:7TeV", Term("energy", "7TeV")),
        ("doi:10.7483/OPENDATA.CMS.A342.9982", Term("doi", "10.7483/OPENDATA.CMS.A342.9982")),
        ("a\\:b", Term(None, "a:b")),
        ("mu*", Term(None, "mu*", wildcard=True)),
        ("Run201?B", Term(None, "Run201?B", wildcard=True)),
        ("a\\*b", Term(None, "a*b")),
        ("a\\*b*", Term(None, "a\\*b*", wildcard=True)),
        ("year:[2010 TO 2012]", Range("year", 2010, 2012)),
        ("year:{2010 TO *]", Range("year", 2010, None, include_low=False)),
        ("year:[* TO 2012}", Range("year", None, 2012, include_high=False)),
        ("year:>=2010", Range("year", 2010, None)),
        ("year:<2010", Range("year", None, 2010, include_high=False)),
        ("*:*", MatchAll()),
        ("", MatchAll()),
        ("  \t", MatchAll()),
    ],
)
def test_parse_builds_the_tree(text: str, tree: object) -> None:
    assert parse(text) == tree


def test_parse_records_where_each_leaf_starts() -> None:
    tree = parse('higgs title:"a b" -year:[1 TO 2]')
    assert isinstance(tree, And)
    first, second, third = tree.children
    assert isinstance(first, Term) and first.position == 0
    assert isinstance(second, Phrase) and second.position == 12
    assert isinstance(third, Not) and isinstance(third.child, Range)
    assert third.child.position == 24


# -- searching: counts against the JSON --------------------------------------------------------


@pytest.mark.parametrize("query", ["title:muon", "title:Muon", "title:MUON"])
def test_title_word_is_case_insensitive(
    query: str, search: Callable[[str], set[str]], codp_records: list[Record]
) -> None:
    expected = recids(codp_records, lambda r: "muon" in words(r["title"]))
    assert expected
    # Non-ASCII titles are tokenised by Unicode rules that ``words`` does not copy.
    ascii_titles = recids(codp_records, _ascii_title)
    assert search(query) & ascii_titles == expected & ascii_titles


def _ascii_title(record: Record) -> bool:
    return bool(record["title"].isascii())


def test_json_path(search: Callable[[str], set[str]], codp_records: list[Record]) -> None:
    def energy(r: Record) -> Any:
        return (r.get("collision_information") or {}).get("energy")

    expected = recids(codp_records, lambda r: energy(r) == "13TeV")
    assert len(expected) == 1747
    assert search("collision_information.energy:13TeV") == expected
    assert search("energy:13TeV") == expected  # alias
    assert search("energy:*") == recids(codp_records, lambda r: bool(energy(r)))


def test_free_phrase(search: Callable[[str], set[str]], codp_records: list[Record]) -> None:
    phrase = ["higgs", "boson"]
    found = search('"Higgs boson"')
    assert recids(codp_records, lambda r: has_phrase(r["title"], phrase)) <= found
    by_recid = {r["recid"]: r for r in codp_records}
    for recid in sorted(found)[:20]:
        assert any(has_phrase(s, phrase) for s in strings(by_recid[recid]))
    assert search("Higgs boson") >= found  # words anywhere, not side by side


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        (
            "distribution.number_events:[1000 TO 5000]",
            lambda r: (n := number_events(r)) is not None and 1000 <= n <= 5000,
        ),
        (
            "number_events:{1000 TO 5000}",
            lambda r: (n := number_events(r)) is not None and 1000 < n < 5000,
        ),
        (
            "number_events:>=100000000",
            lambda r: (n := number_events(r)) is not None and n >= 100_000_000,
        ),
        ("number_events:[* TO *]", lambda r: number_events(r) is not None),
        ("year:[2010 TO 2012]", lambda r: any(2010 <= y <= 2012 for y in years(r))),
        ("year:[2010 TO 2012}", lambda r: any(2010 <= y < 2012 for y in years(r))),
        ("year:<2011", lambda r: any(y < 2011 for y in years(r))),
        ("year:2016", lambda r: 2016 in years(r)),
        ("recid:[1 TO 100]", lambda r: 1 <= int(r["recid"]) <= 100),
        ("recid:{1 TO 100}", lambda r: 1 < int(r["recid"]) < 100),
        ("year:[2012 TO 2010]", lambda r: False),
    ],
)
def test_ranges(
    query: str,
    keep: Callable[[Record], bool],
    search: Callable[[str], set[str]],
    codp_records: list[Record],
) -> None:
    assert search(query) == recids(codp_records, keep)


def test_number_events_range_has_72_records(search: Callable[[str], set[str]]) -> None:
    assert len(search("distribution.number_events:[1000 TO 5000]")) == 72


def test_exact_fields(search: Callable[[str], set[str]]) -> None:
    assert search('doi:"10.7483/OPENDATA.CMS.A342.9982"') == {"1"}
    assert search("doi:10.7483/opendata.cms.a342.9982") == {"1"}  # DOIs ignore case
    assert search("recid:12341") == {"12341"}
    assert search("recid:1234") == set()  # exact, not a prefix


def test_booleans(search: Callable[[str], set[str]], codp_records: list[Record]) -> None:
    every = recids(codp_records, lambda r: True)
    cms = recids(codp_records, lambda r: "CMS" in r["experiment"])
    atlas = recids(codp_records, lambda r: "ATLAS" in r["experiment"])
    alice = recids(codp_records, lambda r: "ALICE" in r["experiment"])
    dataset = recids(codp_records, lambda r: r["type"]["primary"] == "Dataset")
    assert search("experiment:CMS") == cms
    assert search("experiment:CMS AND type:Dataset") == cms & dataset
    assert search("experiment:CMS type:Dataset") == cms & dataset
    assert search("experiment:ATLAS OR experiment:ALICE") == atlas | alice
    assert search("experiment:(ATLAS OR ALICE)") == atlas | alice
    assert search("type:Dataset -experiment:CMS") == dataset - cms
    assert search("type:Dataset AND NOT experiment:CMS") == dataset - cms
    assert search("NOT experiment:CMS") == every - cms
    assert search("-experiment:CMS") == every - cms
    assert search("!experiment:CMS") == every - cms
    assert search("NOT NOT experiment:CMS") == cms
    assert search("(experiment:ATLAS OR experiment:ALICE) AND type:Dataset") == (
        (atlas | alice) & dataset
    )
    assert search("experiment:ATLAS OR experiment:ALICE AND type:Dataset") == atlas | (
        alice & dataset
    )
    assert search("") == every
    assert search("*:*") == every


def test_wildcards(search: Callable[[str], set[str]], codp_records: list[Record]) -> None:
    def title_word(prefix: str) -> Callable[[Record], bool]:
        return lambda r: any(w.startswith(prefix) for w in words(r["title"]))

    ascii_records = [r for r in codp_records if _ascii_title(r)]
    muon = search("title:Muon*")
    assert {x for x in muon if x in recids(ascii_records, lambda r: True)} == recids(
        ascii_records, title_word("muon")
    )
    assert search("title:muon") < muon

    double_mu = search("DoubleMu*")
    assert recids(codp_records, title_word("doublemu")) <= double_mu
    by_recid = {r["recid"]: r for r in codp_records}
    for recid in sorted(double_mu)[:20]:
        assert any(w.startswith("doublemu") for s in strings(by_recid[recid]) for w in words(s))

    assert search("title:Run201?B") == recids(
        codp_records, lambda r: any(re.fullmatch(r"run201.b", w) for w in words(r["title"]))
    )
    assert search("*") == recids(codp_records, lambda r: True)
    assert search("recid:1234*") == recids(codp_records, lambda r: r["recid"].startswith("1234"))
    assert search("doi:10.7483/OPENDATA.CMS.A342.*") == {"1"}


def test_multi_token_wildcard_is_a_phrase_of_patterns(search: Callable[[str], set[str]]) -> None:
    assert search("Run2012*-22Jan2013") >= search('"Run2012B-22Jan2013"')
    assert search("Run2012*-22Jan2013") <= search("22Jan2013")


def test_value_that_tokenises_to_nothing_matches_nothing(
    search: Callable[[str], set[str]], codp_records: list[Record]
) -> None:
    assert search("title:!!!") == set()
    assert search('"!!!"') == set()
    assert search('""') == set()
    assert search('-"!!!"') == recids(codp_records, lambda r: True)


# -- user input never becomes query syntax -----------------------------------------------------


@pytest.mark.parametrize(
    ("adversarial", "plain"),
    [
        ('"higgs\\" OR \\"muon"', '"higgs or muon"'),
        ('title:"muon\\" OR title:\\"higgs"', 'title:"muon or title higgs"'),
        ('energy:"13TeV\\" OR experiment:\\"CMS"', 'energy:"13TeV OR experiment CMS"'),
        ('"a\\\\\\" OR b"', '"a OR b"'),
        ('"muon [1 TO 5] * ?"', '"muon 1 to 5"'),
        ('"muon\\\\"', "muon"),
        ("title:muon:x", 'title:"muon x"'),
        ("energy:13TeV)", None),
    ],
)
def test_quotes_and_backslashes_cannot_inject(
    adversarial: str, plain: str | None, search: Callable[[str], set[str]]
) -> None:
    if plain is None:
        with pytest.raises(QuerySyntaxError):
            search(adversarial)
    else:
        assert search(adversarial) == search(plain)


def test_keyword_values_are_exact(search: Callable[[str], set[str]]) -> None:
    assert search('doi:"10.7483/OPENDATA.CMS.A342.9982\\" OR recid:\\"2"') == set()
    assert search('recid:"12341\\\\"') == set()


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("(higgs", 0, "unbalanced parenthesis at character 0: add ')'"),
        ("higgs)", 5, "unbalanced parenthesis at character 5: remove ')'"),
        ("a (b (c)", 2, "unbalanced parenthesis at character 2"),
        ('x "open phrase', 2, "unterminated phrase starting at character 2: add a closing"),
        ("title:", 0, "field 'title' at character 0 needs a value"),
        ("title: higgs", 0, "needs a value"),
        (":value", 0, "needs a field name"),
        ("[1 TO", 0, "range at character 0 needs the form [a TO b]"),
        ("year:[1 TO 5", 5, "add ']' or '}'"),
        ("year:[1 5]", 5, "needs the form [a TO b]"),
        ("[1 TO 5]", 0, "needs a field"),
        ("year:abc", 5, "year takes a number"),
        ("year:[a TO 5]", 5, "range bounds must be numbers"),
        ("number_events:[1.5 TO 5]", 14, "range bounds must be numbers"),
        ("year:[-1 TO 5]", 5, "from 0 to"),
        ("title:[a TO b]", 6, "ranges work on recid, year"),
        ("a AND", 2, "AND at character 2 needs a term after it"),
        ("OR b", 0, "OR at character 0 needs a term before it"),
        ("a OR OR b", 2, "OR at character 2 needs a term after it"),
        ("NOT", 0, "NOT at character 0 needs a term after it"),
        ("a - b", 2, "must touch the term"),
        ("()", 0, "empty parentheses"),
        ("ti$tle:x", 0, "unknown field 'ti$tle'"),
        ("ti\\ tle:x", 0, "unknown field"),
        ("energy:7*", 7, "wildcards work on free words, title, recid and doi; not on energy"),
        ("year:20*", 5, "not on year"),
        ("higgs^2", 5, "not supported"),
        ("a ]", 2, "unexpected ']'"),
        ("a\\", 1, "escapes nothing"),
        ("\ud800", 0, "not valid Unicode"),
        ("x" * (MAX_QUERY_LENGTH + 1), MAX_QUERY_LENGTH, "limit is 2000"),
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), MAX_DEPTH, "nests deeper"),
        ("-" * (MAX_DEPTH + 1) + "a", MAX_DEPTH, "nests deeper"),
        (" ".join(["a"] * (MAX_CLAUSES + 1)), 2 * MAX_CLAUSES, "too many terms"),
    ],
)
def test_errors_say_where_and_what(
    text: str, position: int, message: str, index: tantivy.Index
) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        build(text, index)
    assert caught.value.position == position
    assert message in str(caught.value)


def test_limits_are_inclusive(index: tantivy.Index) -> None:
    build("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH, index)
    build(" ".join(["a"] * MAX_CLAUSES), index)
    build("a" * MAX_QUERY_LENGTH, index)


def test_too_complex_wildcard_is_a_syntax_error(index: tantivy.Index) -> None:
    # Within the wildcard limit, yet beyond the size tantivy allows its automata.
    with pytest.raises(QuerySyntaxError, match="fewer"):
        build("*e?*?a?*o?*?*i?*?n*", index)


# -- what a query may cost: wildcards counted and capped ----------------------------------------


def test_wildcards_are_counted_and_capped_at_the_term_past_the_limit(index: tantivy.Index) -> None:
    build(" ".join(["mu*"] * MAX_WILDCARDS), index)
    text = " OR ".join(["mu*"] * (MAX_WILDCARDS + 1))
    with pytest.raises(QuerySyntaxError) as caught:
        build(text, index)
    last = text.rindex("mu*")
    assert caught.value.position == last
    assert f"at most {MAX_WILDCARDS} '*' and '?'" in str(caught.value)
    assert f"character {last}" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("mu*", 1),
        ("Run201?B", 1),
        ("*muon*", 2),
        ("Run2012*-22Jan*", 2),  # one pattern per word
        ("Run2012*-*", 1),  # a word that is only '*' matches any word: left out
        ("*", 0),  # every record
        ("title:*", 0),  # has a title
        ("doi:10.7483/OPENDATA.CMS.*", 1),  # a keyword field: one pattern
        ("a\\*b", 0),
    ],
)
def test_what_counts_as_a_wildcard(text: str, count: int) -> None:
    node = parse(text)
    assert isinstance(node, Term)
    assert wildcard_count(node) == count


def test_one_pattern_with_too_many_wildcards_is_refused_at_its_start(index: tantivy.Index) -> None:
    build("x" + "*a" * MAX_WILDCARDS, index)
    with pytest.raises(QuerySyntaxError) as caught:
        build("higgs x" + "*a" * (MAX_WILDCARDS + 1), index)
    assert caught.value.position == 6


@pytest.mark.parametrize(
    "text", ["?*", "*?", "???", "title:??*", "doi:*?", "Run2012-?*", "recid:?"]
)
def test_a_pattern_word_without_a_letter_or_digit_is_refused(
    text: str, index: tantivy.Index
) -> None:
    with pytest.raises(QuerySyntaxError, match="needs a letter or digit"):
        build(text, index)


def test_runs_of_wildcards_match_as_written(
    search: Callable[[str], set[str]], codp_records: list[Record]
) -> None:
    # '*?*?' is compiled as one repeat ('.{2,}'): the same words as the pattern spelled out.
    ascii_records = [r for r in codp_records if _ascii_title(r)]
    for pattern, regex in (("m*?*?n", r"m.{2,}n"), ("m??n", r"m..n"), ("c?*s", r"c.+s")):
        found = {x for x in search(f"title:{pattern}") if x in recids(ascii_records, bool)}
        expected = recids(
            ascii_records, lambda r, rx=regex: any(re.fullmatch(rx, w) for w in words(r["title"]))
        )
        assert found == expected
        assert found, pattern


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="ab*?- ", max_size=80))
def test_fuzz_an_accepted_query_holds_at_most_the_limit_of_wildcards(
    text: str, index: tantivy.Index
) -> None:
    try:
        tree = parse(text)
    except QuerySyntaxError as exc:
        assert 0 <= exc.position <= len(text)
        return

    def terms(node: Any) -> list[Term]:
        if isinstance(node, Term):
            return [node]
        if isinstance(node, Not):
            return terms(node.child)
        return [t for child in getattr(node, "children", ()) for t in terms(child)]

    assert sum(wildcard_count(t) for t in terms(tree)) <= MAX_WILDCARDS
    compile_query(tree, index)


def test_compile_checks_hand_built_trees(index: tantivy.Index) -> None:
    with pytest.raises(QuerySyntaxError, match="year takes a number"):
        compile_query(Term("year", "abc", position=3), index)
    with pytest.raises(QuerySyntaxError, match="unknown field"):
        compile_query(Term("no such", "x"), index)
    with pytest.raises(QuerySyntaxError, match="from -9223372036854775808"):
        compile_query(Range("number_events", 2**70, None), index)
    assert isinstance(compile_query(Or(()), index), tantivy.Query)
    assert isinstance(compile_query(And(()), index), tantivy.Query)


# -- fuzzing: only a query or QuerySyntaxError, and the query runs ----------------------------

_METACHARACTERS = '()[]{}":*?\\-+!&|^~<>=/. ANDORNOTTOabcxyz0123'
_PIECES = [
    "title:", "energy:", "year:", "recid:", "doi:", "collision_information.energy:", "(", ")",
    "AND", "OR", "NOT", "&&", "||", "-", "+", "!", "muon", "Higgs", "13TeV", "12341", "2012",
    '"higgs boson"', '"a \\" b"', "[1 TO 5]", "{2010 TO *]", "[* TO *]", ">=2011", "*", "mu*",
    "?", "\\", ":", "*:*", "10.7483/OPENDATA.CMS.A342.9982", "Run2012*-22Jan", "!!!", "[",
]  # fmt: skip


def _runs_or_refuses(text: str, index: tantivy.Index, searcher: tantivy.Searcher) -> None:
    try:
        query = build(text, index)
    except QuerySyntaxError as exc:
        assert 0 <= exc.position <= len(text)
        assert str(exc)
        return
    assert isinstance(query, tantivy.Query)
    searcher.search(query, 10)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=120))
def test_fuzz_any_text(text: str, index: tantivy.Index, searcher: tantivy.Searcher) -> None:
    _runs_or_refuses(text, index, searcher)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_METACHARACTERS, max_size=60))
def test_fuzz_metacharacters(text: str, index: tantivy.Index, searcher: tantivy.Searcher) -> None:
    _runs_or_refuses(text, index, searcher)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.tuples(st.sampled_from(_PIECES), st.sampled_from(["", " "])), max_size=12)
)
def test_fuzz_query_pieces(
    pieces: list[tuple[str, str]], index: tantivy.Index, searcher: tantivy.Searcher
) -> None:
    _runs_or_refuses("".join(piece + gap for piece, gap in pieces), index, searcher)


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from([None, "title", "energy"]), value=st.text(max_size=40))
def test_fuzz_phrase_values_are_inert(
    field: str | None, value: str, index: tantivy.Index, searcher: tantivy.Searcher
) -> None:
    # '"' and '\' separate words like any punctuation, so blanking them must not change the hits.
    blanked = re.sub(r'["\\]', " ", value)
    found = searcher.search(compile_query(Phrase(field, value), index), 10).count
    assert found == searcher.search(compile_query(Phrase(field, blanked), index), 10).count
