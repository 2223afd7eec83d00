"""A search request: what a query string may ask for, read and bounded in one place.

The API (``/api/records/``) and the search page read their parameters with
:meth:`SearchRequest.from_params`; a request built in code (the home page, tests) is bounded
by the same checks, in ``__post_init__``. What does not fit is a :class:`SearchRequestError`
whose message names the parameter and says what to change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from openhep.search._query import MAX_QUERY_LENGTH

MAX_PAGE_SIZE = 1000
#: The highest page number a request may name (beyond that the cursor walks on).
MAX_PAGE = 10_000_000
#: Beyond this offset a client should walk with the cursor (it costs the same, but says so).
MAX_OFFSET = 10_000_000
#: A cursor (``search_after``) is a short token of ours: longer is not one.
MAX_CURSOR_LENGTH = 200
SORTS = ("bestmatch", "mostrecent", "title", "title_desc")
#: Bounds on what a client may select: values per filter, and characters per value.
MAX_FILTER_VALUES = 50
MAX_FILTER_LENGTH = 200
#: How a flag parameter (``ondemand``, ``skip_files``) says yes; anything else is no.
TRUE_VALUES = frozenset({"1", "true", "yes", "on"})

#: Facets with one level of terms: parameter name = index field.
TERMS_FACETS = (
    "experiment",
    "availability",
    "file_type",
    "collision_type",
    "collision_energy",
    "signature",
    "keywords",
    "magnet_polarity",
    "stripping_stream",
    "stripping_version",
)
#: Facets with a nested level, as CODP shows them: type → subtype, category → subcategory.
NESTED_FACETS = {"type": "subtype", "category": "subcategory"}
#: Filters without facet counts.
FILTER_ONLY = ("tags", "collections")
#: Which filters belong to which facet group: a group's counts ignore its own selection.
FILTER_GROUPS = {name: name for name in (*TERMS_FACETS, "year", "number_events", *FILTER_ONLY)} | {
    "type": "type",
    "subtype": "type",
    "category": "category",
    "subcategory": "category",
}
FILTER_NAMES = tuple(FILTER_GROUPS)


class SearchRequestError(ValueError):
    """A search request that cannot be answered as asked; the message says what to change."""


class Params(Protocol):
    """A query string's parameters (Starlette's ``QueryParams`` is one)."""

    def get(self, key: str, /) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...

    def __contains__(self, key: object) -> bool: ...


def is_true(value: str | None) -> bool:
    """Whether a flag parameter's value says yes (:data:`TRUE_VALUES`)."""
    return value is not None and value.lower() in TRUE_VALUES


def _number(params: Params, name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 12) or not (
        low <= int(value) <= high
    ):
        raise SearchRequestError(f"{name}: expected a whole number from {low} to {high:,}")
    return int(value)


def _text(name: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise SearchRequestError(f"{name}: at most {limit:,} characters")


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One search: the query, CODP's filters, a sort, a page (or a cursor)."""

    q: str = ""
    page: int = 1
    size: int = 10
    sort: str | None = None
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    ondemand: bool = False
    cursor: str | None = None

    def __post_init__(self) -> None:
        # Every bound a client can reach, checked once, however the request was made.
        _text("q", self.q, MAX_QUERY_LENGTH)
        if not 1 <= self.page <= MAX_PAGE:
            raise SearchRequestError(f"page: expected a whole number from 1 to {MAX_PAGE:,}")
        if not 1 <= self.size <= MAX_PAGE_SIZE:
            raise SearchRequestError(f"size: expected a whole number from 1 to {MAX_PAGE_SIZE:,}")
        if self.sort is not None and self.sort not in SORTS:
            raise SearchRequestError(f"sort must be one of {', '.join(SORTS)}")
        _text("search_after", self.cursor, MAX_CURSOR_LENGTH)
        for name, values in self.filters.items():
            if name not in FILTER_GROUPS:
                raise SearchRequestError(
                    f"unknown filter {name!r}; filters are: {', '.join(FILTER_NAMES)}"
                )
            kept = [v for v in values if v != ""]
            if len(kept) > MAX_FILTER_VALUES:
                raise SearchRequestError(
                    f"{name}: at most {MAX_FILTER_VALUES} values, got {len(kept)}"
                )
            if any(len(value) > MAX_FILTER_LENGTH for value in kept):
                raise SearchRequestError(
                    f"{name}: a value may have at most {MAX_FILTER_LENGTH} characters"
                )

    @classmethod
    def from_params(cls, params: Params) -> SearchRequest:
        """The search a query string asks for (``q``, ``page``, ``size``, ``sort``,
        ``ondemand``, ``search_after`` and the filters of :data:`FILTER_NAMES`);
        :class:`SearchRequestError` for what cannot be read or is out of bounds."""
        q = params.get("q")
        _text("q", q, MAX_QUERY_LENGTH)  # before it is copied anywhere
        return cls(
            q=q or "",
            page=_number(params, "page", 1, 1, MAX_PAGE),
            size=_number(params, "size", 10, 1, MAX_PAGE_SIZE),
            sort=params.get("sort") or None,
            filters={name: params.getlist(name) for name in FILTER_NAMES if name in params},
            ondemand=is_true(params.get("ondemand")),
            cursor=params.get("search_after") or None,
        )
