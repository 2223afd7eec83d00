"""The home and search pages over the 7,535 real records: what they show equals what the JSON
API answers for the same parameters; chips, filters kept on refining, sorts, page bounds, the
JSON twin; valid HTML; any parameters answer 200 or 400, never 500."""

from __future__ import annotations

import html
import math
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from _services.html import html_problems
from openhep.search import FILTER_NAMES

Params = list[tuple[str, str]]

# -- reading the pages (their markup is this module's contract with the templates) -------------

_FACET = re.compile(r'<section class="facet facet--(\w+)".*?</section>', re.S)
_FACET_LINK = re.compile(
    r'<a class="facet__link( is-selected)?" href="([^"]*)"[^>]*>'
    r'<span class="facet__value">([^<]*)</span> <span class="facet__count">([0-9,]+)</span></a>'
)
_RESULT = re.compile(r'<h2 class="result__title"><a href="[^"]*/record/(\d+)">')
_CHIP = re.compile(
    r'<li class="chip"><span class="chip__text"><span class="chip__name">([^<]*):</span> ([^<]*)'
    r'</span> <a class="chip__remove" href="([^"]*)" aria-label="([^"]*)"'
)
_COUNT = re.compile(r'<p class="result-count" role="status">\s*(?:<strong>)?([0-9,]+|No records)')
_PAGE_LINK = re.compile(r'<a href="([^"]*)"(?: aria-current="page")? aria-label="Page (\d+)')


def page(client: TestClient, params: Params | dict[str, str] | None = None) -> str:
    response = client.get("/search", params=params)
    assert response.status_code == 200, response.text[-2000:]
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def api(client: TestClient, params: Params | dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/records/", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def facets(text: str) -> dict[str, list[tuple[str, int, bool]]]:
    """Each facet's (value as shown, count, selected), in page order, nested values included."""
    out = {}
    for match in _FACET.finditer(text):
        out[match.group(1)] = [
            (html.unescape(value), int(count.replace(",", "")), bool(selected))
            for selected, _, value, count in _FACET_LINK.findall(match.group(0))
        ]
    return out


def facet_url(text: str, facet: str, value: str, parent: str | None = None) -> str:
    """The link of ``value`` in ``facet`` (under ``parent`` for a nested value)."""
    section = next(m.group(0) for m in _FACET.finditer(text) if m.group(1) == facet)
    if parent is not None:
        start = section.index(f'<span class="facet__value">{parent}</span>')
        section = section[start:]
    for _, url, shown, _ in _FACET_LINK.findall(section):
        if html.unescape(shown) == value:
            return html.unescape(url)
    raise AssertionError(f"no {facet} value {value!r}")


def total(text: str) -> int:
    found = _COUNT.search(text)
    assert found, "no result count"
    return 0 if found.group(1) == "No records" else int(found.group(1).replace(",", ""))


def recids(text: str) -> list[str]:
    return _RESULT.findall(text)


def chips(text: str) -> list[tuple[str, str, str, str]]:
    return [tuple(html.unescape(g) for g in chip) for chip in _CHIP.findall(text)]  # type: ignore[misc]


def query(url: str) -> Params:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def form_fields(text: str) -> Params:
    """What the search form submits as it stands (hidden inputs, q, the selects' choices)."""
    form = re.search(r'<form class="search-form".*?</form>', text, re.S)
    assert form
    body = form.group(0)
    fields: Params = []
    for tag in re.findall(r"<input [^>]*>", body):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]*)"', tag)
        if not name or (kind and kind.group(1) == "checkbox" and " checked" not in tag):
            continue
        fields.append((name.group(1), html.unescape(value.group(1) if value else "")))
    for name, options in re.findall(r'<select id="\w+" name="(\w+)">(.*?)</select>', body, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        assert chosen, name
        fields.append((name, chosen.group(1)))
    return fields


def expected_facet(name: str, aggregation: dict[str, Any]) -> list[tuple[str, int]]:
    """The API's buckets of a facet, flattened as the page lists them."""
    out = []
    for bucket in aggregation["buckets"]:
        key = str(bucket["key"])
        if name == "number_events":
            low, _, high = key.partition("--")
            key = f"{int(low):,}\u2013{int(high):,}" if high else f"{int(low):,} or more"
        out.append((key, bucket["doc_count"]))
        for child in ("subtype", "subcategory"):
            out += [
                (str(b["key"]), b["doc_count"]) for b in bucket.get(child, {}).get("buckets", [])
            ]
    return out


# -- home ---------------------------------------------------------------------------------------


def test_home_counts_equal_the_api(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    text = response.text
    assert html_problems(text) == []
    every = api(client, {"size": "6", "sort": "mostrecent"})
    for key, label in [
        ("Dataset", "Datasets"),
        ("Software", "Software"),
        ("Environment", "Environments"),
        ("Documentation", "Documentation"),
    ]:
        count = api(client, {"type": key, "size": "1"})["hits"]["total"]
        card = re.search(
            rf'href="[^"]*/search\?type={key}">\s*<span class="type-card__label">{label}</span>\s*'
            rf'<span class="type-card__count">([0-9,]+)</span>',
            text,
        )
        assert card, key
        assert int(card.group(1).replace(",", "")) == count
    shown = re.findall(
        r'href="[^"]*/search\?experiment=(\w+)"><span class="experiment-list__name">\w+</span> '
        r'<span class="experiment-list__count">([0-9,]+)</span>',
        text,
    )
    buckets = every["aggregations"]["experiment"]["buckets"]
    assert [(e, int(c.replace(",", ""))) for e, c in shown] == [
        (b["key"], b["doc_count"]) for b in buckets
    ]
    latest = re.findall(r'<h3 class="result__title"><a href="[^"]*/record/(\d+)">', text)
    assert latest == [h["id"] for h in every["hits"]["hits"]]


def test_home_example_queries_find_records(client: TestClient) -> None:
    text = client.get("/").text
    examples = re.findall(r'<a href="([^"]*/search\?q=[^"]*)"><code>', text)
    assert len(examples) >= 4
    for url in examples:
        assert total(page(client, query(html.unescape(url)))) > 0, url


# -- search: counts, results, facets ---------------------------------------------------------------

SEARCHES: list[Params] = [
    [],
    [("q", "muon")],
    [("q", "muon"), ("experiment", "CMS")],
    [("q", "muon"), ("experiment", "CMS"), ("type", "Dataset"), ("subtype", "Derived")],
    [("type", "Software"), ("sort", "title")],
    [("year", "2010--2012"), ("collision_energy", "7TeV"), ("size", "20")],
    [("number_events", "1000000--9999999"), ("experiment", "CMS"), ("experiment", "ALICE")],
    [("q", 'title:"Higgs"'), ("ondemand", "true")],
    [("category", "Higgs"), ("file_type", "root")],
    [("q", "zzzzqqq"), ("experiment", "CMS")],
]


@pytest.mark.parametrize("params", SEARCHES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p))
def test_search_page_shows_what_the_api_answers(client: TestClient, params: Params) -> None:
    text = page(client, params)
    assert html_problems(text) == []
    answer = api(client, params)
    assert total(text) == answer["hits"]["total"]
    assert recids(text) == [h["id"] for h in answer["hits"]["hits"]]
    shown = facets(text)
    for name, aggregation in answer["aggregations"].items():
        expected = expected_facet(name, aggregation)
        if name in shown:
            assert [(v, c) for v, c, _ in shown[name]] == expected, name
        else:
            # The page leaves out a few rarely used facets, and empty ones.
            assert name in ("magnet_polarity", "stripping_stream", "stripping_version") or (
                not expected
            ), name


def test_facet_links_select_and_deselect(client: TestClient) -> None:
    text = page(client, {"q": "muon"})
    assert "experiment" in facets(text)
    cms = facet_url(text, "experiment", "CMS")
    assert ("experiment", "CMS") in query(cms)
    selected = page(client, query(cms))
    assert (
        "CMS",
        api(client, {"q": "muon"})["aggregations"]["experiment"]["buckets"][0]["doc_count"],
        True,
    ) in facets(selected)["experiment"]
    # A selected value's link removes it again.
    assert query(facet_url(selected, "experiment", "CMS")) == [("q", "muon")]


def test_subtype_link_selects_its_type_too(client: TestClient) -> None:
    text = page(client, {"q": "muon", "experiment": "CMS"})
    derived = query(facet_url(text, "type", "Derived", parent="Dataset"))
    assert derived == [
        ("q", "muon"),
        ("type", "Dataset"),
        ("subtype", "Derived"),
        ("experiment", "CMS"),
    ]
    result = page(client, derived)
    assert total(result) == api(client, derived)["hits"]["total"] > 0
    flags = {(v, s) for v, _, s in facets(result)["type"]}
    assert ("Dataset", True) in flags
    assert ("Derived", True) in flags
    assert ("Collision", False) in flags


def test_descriptions_are_plain_text_and_queries_are_escaped(client: TestClient) -> None:
    # Record descriptions are HTML; results show their text, cut short.
    params = {"q": "ALICE", "size": "50"}
    hits = api(client, params)["hits"]["hits"]
    sources = [(h["metadata"].get("abstract") or {}).get("description", "") for h in hits]
    assert any("<" in source for source in sources)
    text = page(client, params)
    descriptions = re.findall(r'<p class="result__description">(.*?)</p>', text, re.S)
    assert descriptions
    for description in descriptions:
        assert "<" not in description
        assert len(html.unescape(description)) <= 281
    evil = page(client, {"q": '"<script>alert(1)</script>"'})
    assert "<script>alert(1)" not in evil
    assert html_problems(evil) == []


def test_number_of_events_and_size_are_shown(client: TestClient) -> None:
    answer = api(client, {"q": "recid:12341"})
    [hit] = answer["hits"]["hits"]
    distribution = hit["metadata"]["distribution"]
    text = page(client, {"q": "recid:12341"})
    assert f"{distribution['number_events']:,} events" in text
    size = distribution.get("size") or sum(f["size"] for f in hit["metadata"]["files"])
    assert f"{size / 1e9:.1f} GB" in text or f"{size / 1e12:.1f} TB" in text


# -- chips and refining -------------------------------------------------------------------------


def test_selected_filters_show_as_chips_that_remove_them(client: TestClient) -> None:
    params = [
        ("q", "muon"),
        ("type", "Dataset"),
        ("subtype", "Derived"),
        ("experiment", "CMS"),
        ("year", "2010--2012"),
        ("number_events", "10000--99999"),
    ]
    text = page(client, params)
    found = chips(text)
    assert [(n, v, label) for n, v, _, label in found] == [
        ("Type", "Dataset", "Remove Type: Dataset"),
        ("Subtype", "Derived", "Remove Subtype: Derived"),
        ("Experiment", "CMS", "Remove Experiment: CMS"),
        ("Year", "2010\u20132012", "Remove Year: 2010\u20132012"),
        ("Number of events", "10,000\u201399,999", "Remove Number of events: 10,000\u201399,999"),
    ]
    for (name, _, url, _), removed in zip(found, params[1:], strict=True):
        left = query(url)
        assert left == [p for p in params if p != removed], name
        assert total(page(client, left)) == api(client, left)["hits"]["total"]
    assert '<ul class="chips">' not in page(client, {"q": "muon"})


def test_refining_the_query_keeps_the_filters(client: TestClient) -> None:
    params = [("q", "muon"), ("type", "Dataset"), ("subtype", "Derived"), ("experiment", "CMS"),
              ("sort", "title"), ("size", "20"), ("ondemand", "true")]  # fmt: skip
    text = page(client, params)
    fields = form_fields(text)
    assert [f for f in fields if f[0] != "q"] == [
        ("type", "Dataset"),
        ("subtype", "Derived"),
        ("experiment", "CMS"),
        ("ondemand", "true"),
        ("sort", "title"),
        ("size", "20"),
    ]
    refined = [(k, "muon dimuon" if k == "q" else v) for k, v in fields]
    again = page(client, refined)
    assert [c[1] for c in chips(again)] == ["Dataset", "Derived", "CMS"]
    assert total(again) == api(client, refined)["hits"]["total"]
    assert 'value="muon dimuon"' in again


def test_year_range_form(client: TestClient) -> None:
    text = page(client, {"q": "muon", "year_from": "2010", "year_to": "2012"})
    assert [c[:2] for c in chips(text)] == [("Year", "2010\u20132012")]
    assert total(text) == api(client, {"q": "muon", "year": "2010--2012"})["hits"]["total"]
    assert (
        'name="year_from" type="text" inputmode="numeric" pattern="[0-9]{4}" size="4" value="2010"'
        in text
    )
    single = page(client, {"year_from": "2011", "year_to": "2011"})
    assert [c[:2] for c in chips(single)] == [("Year", "2011")]
    assert client.get("/search", params={"year_from": "20x1"}).status_code == 400


# -- sorts, sizes, pages ------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["bestmatch", "mostrecent", "title", "title_desc"])
def test_sorts(client: TestClient, sort: str) -> None:
    params = {"q": "muon", "sort": sort, "size": "20"}
    text = page(client, params)
    assert recids(text) == [h["id"] for h in api(client, params)["hits"]["hits"]]
    assert f'<option value="{sort}" selected>' in text


def test_default_sort_is_shown_and_follows_a_new_query(client: TestClient) -> None:
    # Without a query the default is most recent; left untouched, the select sends no sort, so
    # the words typed next are sorted by best match.
    empty = page(client)
    assert '<option value="" selected>Most recent</option>' in empty
    assert ("sort", "") in form_fields(empty)
    typed = [(k, "muon" if k == "q" else v) for k, v in form_fields(empty)]
    text = page(client, typed)
    assert '<option value="" selected>Best match</option>' in text
    assert recids(text) == [h["id"] for h in api(client, {"q": "muon"})["hits"]["hits"]]
    chosen = page(client, {"q": "muon", "sort": "mostrecent"})
    assert '<option value="mostrecent" selected>Most recent</option>' in chosen


@pytest.mark.parametrize("size", [10, 20, 50])
def test_page_sizes_and_bounds(client: TestClient, size: int) -> None:
    params = {"q": "muon", "experiment": "CMS", "size": str(size)}
    count = api(client, params)["hits"]["total"]
    last = math.ceil(count / size)
    assert last > 2
    first = page(client, params)
    assert len(recids(first)) == size
    assert f'<option value="{size}" selected>' in first
    numbers = [int(n) for _, n in _PAGE_LINK.findall(first)]
    assert max(numbers) == last
    assert 'rel="prev"' not in first
    end = page(client, {**params, "page": str(last)})
    assert len(recids(end)) == count - (last - 1) * size
    assert 'rel="next"' not in end
    assert max(int(n) for _, n in _PAGE_LINK.findall(end)) == last
    prev = re.search(r'<a href="([^"]*)" rel="prev">', end)
    assert prev and ("page", str(last - 1)) in query(html.unescape(prev.group(1)))
    # Every numbered link goes to a page that exists.
    for url, number in _PAGE_LINK.findall(end):
        assert 1 <= int(number) <= last
        assert dict(query(html.unescape(url))).get("page", "1") == number
    past = client.get("/search", params={**params, "page": str(last + 1)})
    assert past.status_code == 200
    assert recids(past.text) == []
    assert f"page {last}</a>" in past.text
    assert 'rel="next"' not in past.text


def test_one_page_has_no_pagination(client: TestClient) -> None:
    text = page(client, {"q": "recid:12341"})
    assert total(text) == 1
    assert 'class="pagination"' not in text


def test_page_size_over_the_page_limit_is_refused(client: TestClient) -> None:
    response = client.get("/search", params={"q": "muon", "size": "500"})
    assert response.status_code == 400
    assert "at most 100" in response.text


# -- the JSON twin ------------------------------------------------------------------------------


@pytest.mark.parametrize("params", SEARCHES[1:5], ids=str)
def test_every_search_page_links_its_json_twin(client: TestClient, params: Params) -> None:
    text = page(client, [*params, ("page", "2")])
    alternate = re.search(
        r'<link rel="alternate" type="application/json" title="[^"]*" href="([^"]*)">', text
    )
    visible = re.search(r'<a class="json-link" href="([^"]*)"', text)
    assert alternate and visible
    url = html.unescape(alternate.group(1))
    assert url == html.unescape(visible.group(1))
    assert urlsplit(url).path == "/api/records/"
    assert sorted(query(url)) == sorted([*params, ("page", "2")])
    twin = client.get(url.removeprefix("http://testserver")).json()
    assert twin["hits"]["total"] == total(text)
    assert [h["id"] for h in twin["hits"]["hits"]] == recids(text)


def test_ondemand_toggle(client: TestClient) -> None:
    off = page(client, {"q": "muon"})
    on = page(client, {"q": "muon", "ondemand": "true"})
    assert 'name="ondemand" type="checkbox" value="true">' in off
    assert 'name="ondemand" type="checkbox" value="true" checked>' in on
    assert total(on) == api(client, {"q": "muon", "ondemand": "true"})["hits"]["total"]
    assert "ondemand=true" in re.search(r'<a class="json-link" href="([^"]*)"', on).group(1)  # type: ignore[union-attr]


def test_syntax_help_is_there(client: TestClient) -> None:
    text = page(client)
    help_ = re.search(r'<details class="syntax-help">.*?</details>', text, re.S)
    assert help_
    for example in ("title:muon", '"Higgs boson"', "collision_information.energy:13TeV",
                    "number_events:[1000 TO 5000]", "AND", "OR", "NOT"):  # fmt: skip
        assert example in help_.group(0), example


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "(muon"}, "unbalanced parenthesis"),
        ({"q": '"Higgs'}, "unterminated phrase"),
        ({"q": "muon", "year": "abc"}, "year="),
        ({"page": "0"}, "page"),
        ({"size": "x"}, "size"),
        ({"sort": "random"}, "sort must be one of"),
        ({"q": "x" * 2001}, "at most 2,000 characters"),
    ],
)
def test_a_search_that_cannot_be_read_shows_why(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    response = client.get("/search", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    assert html_problems(text) == []
    assert message in html.unescape(text)
    assert 'role="alert"' in text
    assert '<form class="search-form"' in text
    if "q" in params and len(params["q"]) <= 2000:
        assert f'value="{escape(params["q"])}"' in text
    if "year" in params:
        # The wrong filter shows as a chip, so it can be removed.
        assert [c[:2] for c in chips(text)] == [("Year", "abc")]
        assert client.get(chips(text)[0][2]).status_code == 200


_SUGGESTIONS = re.compile(r'<div class="search-suggestions">(.*?)</div>', re.S)
_SUGGESTION = re.compile(
    r'<li><a href="([^"]*)"><code>([^<]*)</code></a> '
    r'<span class="search-suggestions__count">\(([0-9,]+) records?\)</span></li>'
)


def suggestions(text: str) -> list[tuple[str, str, int]]:
    """The did-you-mean links of a page: (url, query as shown, records it finds)."""
    found = _SUGGESTIONS.search(text)
    if not found:
        return []
    return [
        (html.unescape(url), html.unescape(q), int(count.replace(",", "")))
        for url, q, count in _SUGGESTION.findall(found.group(1))
    ]


@pytest.mark.parametrize(
    ("params", "first"),
    [
        ([("q", "keywords:CMS"), ("type", "Dataset")], "experiment:CMS"),
        ([("q", "experiment:CSM <b>")], "experiment:CMS <b>"),
        ([("q", "triboson")], "files.uri:triboson"),
    ],
)
def test_a_search_finding_nothing_offers_searches_that_find_records(
    client: TestClient, params: Params, first: str
) -> None:
    text = page(client, params)
    assert total(text) == 0
    assert html_problems(text) == []
    offered = suggestions(text)
    assert offered and offered[0][1] == first
    assert [(q, n) for _, q, n in offered] == [
        (s["q"], s["total"]) for s in api(client, params)["suggestions"]
    ]
    for url, q, count in offered:
        # The same filters, the suggested query: a page that finds what the link said.
        assert query(url) == [("q", q), *(p for p in params if p[0] != "q")]
        assert total(page(client, query(url))) == count > 0
    assert "<b>" not in _SUGGESTIONS.search(text).group(0)  # type: ignore[union-attr]


def test_a_search_finding_records_offers_nothing(client: TestClient) -> None:
    assert '<div class="search-suggestions">' not in page(client, {"q": "muon"})


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = [*FILTER_NAMES, "q", "sort", "page", "size", "ondemand", "year_from", "year_to",
         "search_after", "other"]  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["bestmatch", "title", "CMS", "Dataset", "2011", "2010--2012", "--", "true"]),
    st.integers(-(2**70), 2**70).map(str),
    st.from_regex(r"\A[0-9]{0,14}(--)?[0-9]{0,14}\Z"),
)


@FUZZ
@given(params=st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=8))
def test_any_search_parameters_answer_200_or_400(client: TestClient, params: Params) -> None:
    response = client.get("/search", params=params)
    assert response.status_code in (200, 400), (params, response.status_code)
    assert html_problems(response.text) == [], params


def test_the_year_facet_lists_every_year_newest_first(
    client: TestClient, codp_records: list[dict[str, Any]]
) -> None:
    years = sorted(
        {str(d)[:4] for r in codp_records for d in r.get("date_created") or []}, reverse=True
    )
    assert len(years) > 8  # more than a facet shows before "more"
    text = client.get("/search", headers={"accept": "text/html"}).text
    section = re.search(r'<section class="facet facet--year".*?</section>', text, re.DOTALL)
    assert section is not None
    # All in the page (the first ones shown, the rest in "more"), by year, newest first.
    assert re.findall(r'<span class="facet__value">(\d{4})</span>', section.group(0)) == years
    assert '<details class="facet__more">' in section.group(0)
