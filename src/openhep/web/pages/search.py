"""``/search``: the search page — results, facets, selected filters as chips, sort and page
size, pages — each state a GET URL, with a link to its JSON twin under ``/api/records/``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import QueryParams

from openhep.search import (
    FILTER_NAMES,
    MAX_OFFSET,
    NESTED_FACETS,
    SORTS,
    SearchRequest,
    SearchRequestError,
    SearchResult,
    is_true,
)
from openhep.web._cache import cached
from openhep.web._deps import portal
from openhep.web._params import QueryStringError, strict_query_params
from openhep.web._threads import off_loop_router
from openhep.web.pages._render import query_string, render, thousands
from openhep.web.pages._summary import hit_summary

router = off_loop_router(tags=["pages"])

#: The page sizes the selector offers; the page shows at most ``MAX_PAGE_SIZE`` results
#: (the JSON API gives more).
PAGE_SIZES = (10, 20, 50)
MAX_PAGE_SIZE = 100
SORT_LABELS = {
    "bestmatch": "Best match",
    "mostrecent": "Most recent",
    "title": "Title A\u2013Z",
    "title_desc": "Title Z\u2013A",
}
#: Every filter's human name, as headings and chips say it.
LABELS = {
    "type": "Type",
    "subtype": "Subtype",
    "experiment": "Experiment",
    "year": "Year",
    "collision_energy": "Energy",
    "collision_type": "Collision type",
    "file_type": "File type",
    "category": "Category",
    "subcategory": "Subcategory",
    "keywords": "Keywords",
    "number_events": "Number of events",
    "availability": "Availability",
    "signature": "Signature",
    "magnet_polarity": "Magnet polarity",
    "stripping_stream": "Stripping stream",
    "stripping_version": "Stripping version",
    "tags": "Tag",
    "collections": "Collection",
}
#: The order links and chips write filters in (every filter the search takes).
FILTER_ORDER = tuple(LABELS)
assert set(FILTER_ORDER) == set(FILTER_NAMES)
#: The facets the page shows, in this order (``year`` has its own from-to form as well).
FACETS = (
    "type",
    "experiment",
    "year",
    "collision_energy",
    "collision_type",
    "file_type",
    "category",
    "keywords",
    "number_events",
    "availability",
    "signature",
)
#: Values a facet lists before the rest fold into "more".
FACET_SHOWN = 8
PAGE_WINDOW = 2
#: What an error page keeps of parameters it could not read.
MAX_TEXT = 2000
MAX_VALUES = 50
_YEAR = re.compile(r"^[0-9]{1,4}$")


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def value_label(name: str, value: str) -> str:
    """How a filter value reads: event-count and year ranges in words, others as they are."""
    if name in ("number_events", "year") and "--" in value:
        low, _, high = value.partition("--")
        number = thousands if name == "number_events" else str
        if _digits(low) and _digits(high):
            return f"{number(int(low))}\u2013{number(int(high))}"
        if _digits(low) and not high:
            return f"{number(int(low))} or more" if name == "number_events" else f"{low} on"
        if _digits(high) and not low:
            return f"up to {number(int(high))}"
    return value


@lru_cache(maxsize=4096)
def _pair(name: str, value: str) -> str:
    """``name=value`` encoded for a URL (the same few hundred pairs make every page's links)."""
    return f"{quote_plus(name)}={quote_plus(value)}"


class State:
    """A search page's parameters, in the order links write them.

    A page holds a few hundred links that differ in one filter each: the parts of their query
    strings are encoded once.
    """

    __slots__ = ("_encoded", "_head", "_tail", "filters", "ondemand", "q", "size", "sort")

    def __init__(
        self,
        q: str,
        sort: str | None,
        size: int,
        ondemand: bool,
        filters: tuple[tuple[str, str], ...],
    ) -> None:
        self.q, self.sort, self.size, self.ondemand, self.filters = q, sort, size, ondemand, filters
        self._head = [_pair("q", q)] if q else []
        self._tail = [_pair(k, v) for k, v in self.pairs(()) if k != "q"]
        self._encoded = {pair: _pair(*pair) for pair in filters}

    @classmethod
    def of(cls, search: SearchRequest) -> State:
        pairs = tuple(
            (name, value)
            for name in FILTER_ORDER
            for value in search.filters.get(name, ())
            if value != ""
        )
        return cls(search.q, search.sort, search.size, search.ondemand, pairs)

    def pairs(self, filters: Iterable[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.q:
            out.append(("q", self.q))
        out += self.filters if filters is None else filters
        if self.sort:
            out.append(("sort", self.sort))
        if self.size != 10:
            out.append(("size", str(self.size)))
        if self.ondemand:
            out.append(("ondemand", "true"))
        return out

    def url(self, filters: Iterable[tuple[str, str]] | None = None, page: int = 1) -> str:
        encoded = self._encoded
        middle = (
            encoded.get(p) or _pair(*p) for p in (self.filters if filters is None else filters)
        )
        parts = [*self._head, *middle, *self._tail]
        if page != 1:
            parts.append(f"page={page}")
        return f"/search?{'&'.join(parts)}" if parts else "/search"

    def selected(self, name: str, value: str) -> bool:
        return (name, value) in self.filters

    def toggled(self, name: str, value: str, *, parent: tuple[str, str] | None = None) -> str:
        """The URL with ``name=value`` added (and ``parent``, if not selected), or removed."""
        if self.selected(name, value):
            return self.url([p for p in self.filters if p != (name, value)])
        added = [*self.filters, (name, value)]
        if parent is not None and parent not in self.filters:
            added.append(parent)
        return self.url(_ordered(added))


_ORDER = {name: i for i, name in enumerate(FILTER_ORDER)}


def _ordered(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(pairs, key=lambda p: _ORDER[p[0]])


def _facet(name: str, buckets: list[dict[str, Any]], state: State) -> dict[str, Any]:
    child = NESTED_FACETS.get(name)
    values = []
    for bucket in buckets:
        key = str(bucket["key"])
        item: dict[str, Any] = {
            "label": value_label(name, key),
            "count": bucket["doc_count"],
            "url": state.toggled(name, key),
            "selected": state.selected(name, key),
            "children": [],
        }
        if child:
            parent_selected = item["selected"] or not any(n == name for n, _ in state.filters)
            for sub in bucket.get(child, {}).get("buckets", []):
                subkey = str(sub["key"])
                item["children"].append(
                    {
                        "label": subkey,
                        "count": sub["doc_count"],
                        "url": state.toggled(child, subkey, parent=(name, key)),
                        "selected": parent_selected and state.selected(child, subkey),
                        "children": (),
                    }
                )
        values.append(item)
    # Selected values stay in view even when they fall past the first few.
    shown = [v for i, v in enumerate(values) if i < FACET_SHOWN or v["selected"]]
    more = [v for i, v in enumerate(values) if i >= FACET_SHOWN and not v["selected"]]
    return {"name": name, "label": LABELS[name], "values": shown, "more": more}


def _pages(state: State, page: int, last: int) -> list[dict[str, Any]]:
    """Numbered links around ``page``, with the first and the last, gaps as ``None`` numbers."""
    numbers = sorted({1, last, *range(page - PAGE_WINDOW, page + PAGE_WINDOW + 1)})
    out: list[dict[str, Any]] = []
    previous = 0
    for number in numbers:
        if not 1 <= number <= last:
            continue
        if number - previous > 1:
            out.append({"number": None})
        out.append({"number": number, "url": state.url(page=number), "current": number == page})
        previous = number
    return out


def _year_range(params: QueryParams) -> QueryParams:
    """The year form's ``year_from``/``year_to`` as CODP's ``year=2010--2012``."""
    low = (params.get("year_from") or "").strip()
    high = (params.get("year_to") or "").strip()
    if "year_from" not in params and "year_to" not in params:
        return params
    for which, value in (("from", low), ("to", high)):
        if value and not _YEAR.match(value):
            raise SearchRequestError(f"year {which}: expected a year such as 2012, got {value!r}")
    kept = [(k, v) for k, v in params.multi_items() if k not in ("year_from", "year_to", "year")]
    if low or high:
        kept.append(("year", f"{low}--{high}" if low != high else low))
    return QueryParams(kept)


def _view(state: State, search: SearchRequest, result: SearchResult) -> dict[str, Any]:
    size = search.size
    last = max(1, min(-(-result.total // size), MAX_OFFSET // size + 1))
    offset = (search.page - 1) * size
    aggregations = result.aggregations
    facets = [_facet(n, aggregations.get(n, {}).get("buckets", []), state) for n in FACETS]
    # Selected values the facets no longer list (no record left) still show as chips.
    return {
        "hits": [hit_summary(h.recid, h.metadata) for h in result.hits],
        "total": result.total,
        "first": offset + 1,
        "last_shown": offset + len(result.hits),
        "page": search.page,
        "last_page": last,
        "past_end": search.page > last,
        "prev_url": state.url(page=search.page - 1) if 1 < search.page <= last + 1 else None,
        "next_url": state.url(page=search.page + 1) if search.page < last else None,
        "pages": _pages(state, search.page, last),
        "facets": [f for f in facets if f["values"]],
        "sort": result.sort,
        "last_page_url": state.url(page=last),
        "suggestions": [
            {
                "q": s.q,
                "total": s.total,
                "url": State(s.q, state.sort, state.size, state.ondemand, state.filters).url(),
            }
            for s in result.suggestions
        ],
    }


def _chips(state: State) -> list[dict[str, str]]:
    return [
        {
            "name": LABELS.get(name, name),
            "value": value_label(name, value),
            "url": state.url([p for p in state.filters if p != (name, value)]),
        }
        for name, value in state.filters
    ]


def _year_bounds(state: State) -> tuple[str, str]:
    """The year form's fields: the selected range's ends when one range is selected."""
    years = [v for n, v in state.filters if n == "year"]
    if len(years) != 1:
        return "", ""
    low, dashes, high = years[0].partition("--")
    return low, (high if dashes else low)


@router.get("/search", response_class=HTMLResponse, summary="The search page")
@cached
def search_page(request: Request) -> HTMLResponse:
    params = request.query_params
    state: State | None = None
    try:
        params = _year_range(strict_query_params(request))
        search = replace(SearchRequest.from_params(params), cursor=None)
        state = State.of(search)
        if search.size > MAX_PAGE_SIZE:
            raise SearchRequestError(
                f"size: the search page shows at most {MAX_PAGE_SIZE} results a page; "
                "the JSON API gives up to 1,000"
            )
        result = portal(request).search(search)
    except (SearchRequestError, QueryStringError) as exc:
        return _error_page(request, params, state, str(exc))
    context: dict[str, Any] = {
        "state": state,
        "view": _view(state, search, result),
        "chips": _chips(state),
        "error": None,
    }
    common = _common(state, result.sort, search.page)
    return render(request, "search.html", **common, **context)


def _common(state: State, sort: str, page: int = 1) -> dict[str, Any]:
    sizes = sorted({*PAGE_SIZES, state.size}) if state.size <= MAX_PAGE_SIZE else PAGE_SIZES
    pairs = state.pairs()
    twin = query_string([*pairs, ("page", str(page))] if page != 1 else pairs)
    return {
        "q": state.q,
        "hidden": list(state.filters),
        "sort": sort,
        "sorts": SORT_LABELS,
        "size": state.size,
        "sizes": sizes,
        "ondemand": state.ondemand,
        "json_url": f"/api/records/?{twin}" if twin else "/api/records/",
        "year_bounds": _year_bounds(state),
        "year_hidden": [p for p in pairs if p[0] != "year"],
        "clear_url": state.url([]),
    }


def _lenient_state(params: QueryParams) -> State:
    """The parameters of a search that could not be read, as far as they can be kept: the
    error page's form and chips let the reader fix or remove what was wrong."""
    size = params.get("size") or ""
    pairs = tuple(
        (name, value[:MAX_TEXT])
        for name in FILTER_ORDER
        for value in params.getlist(name)[:MAX_VALUES]
        if value
    )
    return State(
        q=(params.get("q") or "")[:MAX_TEXT],
        sort=params.get("sort") if params.get("sort") in SORTS else None,
        size=int(size) if size in {str(n) for n in PAGE_SIZES} else 10,
        ondemand=is_true(params.get("ondemand")),
        filters=pairs,
    )


def _error_page(
    request: Request, params: QueryParams, state: State | None, message: str
) -> HTMLResponse:
    """The page with the reason a search cannot be answered and the form to change it."""
    if state is None:
        state = _lenient_state(params)
    sort = state.sort if state.sort in SORTS else "bestmatch"
    context = {"state": state, "view": None, "chips": _chips(state), "error": message}
    return render(request, "search.html", status_code=400, **_common(state, sort), **context)
