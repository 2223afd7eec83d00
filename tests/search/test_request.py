"""Search requests are bounded in one place: read from a query string (the API and the search
page) or made in code, whatever is out of bounds says which parameter and what to change."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from openhep.search import (
    FILTER_NAMES,
    MAX_CURSOR_LENGTH,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    MAX_QUERY_LENGTH,
    SORTS,
    SearchRequest,
    SearchRequestError,
)


def test_a_query_string_becomes_a_request() -> None:
    params = QueryParams(
        "q=muon&page=3&size=20&sort=title&experiment=CMS&experiment=ALICE&year=2010--2012"
        "&ondemand=true&search_after=abc&colour=red"
    )
    request = SearchRequest.from_params(params)
    assert request == SearchRequest(
        q="muon",
        page=3,
        size=20,
        sort="title",
        filters={"experiment": ["CMS", "ALICE"], "year": ["2010--2012"]},
        ondemand=True,
        cursor="abc",
    )
    assert SearchRequest.from_params(QueryParams("")) == SearchRequest()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=0", f"page: expected a whole number from 1 to {MAX_PAGE:,}"),
        ("page=x", "page: expected a whole number"),
        ("size=0", f"size: expected a whole number from 1 to {MAX_PAGE_SIZE:,}"),
        (f"size={MAX_PAGE_SIZE + 1}", "size: expected a whole number"),
        ("size=%EF%BC%91", "size: expected a whole number"),  # a full-width digit
        ("sort=random", f"sort must be one of {', '.join(SORTS)}"),
        (f"q={'x' * (MAX_QUERY_LENGTH + 1)}", f"q: at most {MAX_QUERY_LENGTH:,} characters"),
        (f"search_after={'x' * (MAX_CURSOR_LENGTH + 1)}", "search_after: at most"),
        ("&".join(["type=x"] * 51), "type: at most 50 values, got 51"),
        (f"keywords={'x' * 201}", "keywords: a value may have at most 200 characters"),
    ],
)
def test_what_is_out_of_bounds_says_what_to_change(query: str, message: str) -> None:
    with pytest.raises(SearchRequestError, match=message.replace("(", r"\(")):
        SearchRequest.from_params(QueryParams(query))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": 0}, "size: expected a whole number"),
        ({"page": 0}, "page: expected a whole number"),
        ({"sort": "random"}, "sort must be one of"),
        ({"filters": {"colour": ["red"]}}, "unknown filter 'colour'"),
        ({"q": "x" * (MAX_QUERY_LENGTH + 1)}, "q: at most"),
    ],
)
def test_a_request_made_in_code_has_the_same_bounds(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(SearchRequestError, match=message):
        SearchRequest(**options)  # type: ignore[arg-type]


@given(
    st.dictionaries(
        st.sampled_from(["q", "page", "size", "sort", "search_after", *FILTER_NAMES[:4]]),
        st.text(max_size=30),
        max_size=6,
    )
)
def test_any_parameters_are_read_or_refused_with_a_reason(values: dict[str, str]) -> None:
    try:
        request = SearchRequest.from_params(QueryParams(values))
    except SearchRequestError as exc:
        assert str(exc)
        return
    assert 1 <= request.page <= MAX_PAGE and 1 <= request.size <= MAX_PAGE_SIZE
    assert request.sort is None or request.sort in SORTS
