"""Search: the query language (Lucene-like, CODP's), filters and facets, sorts, pages and
cursors, over a tantivy index kept in step with the catalogue's change log."""

from openhep.search._index import SearchIndex, open_index
from openhep.search._query import MAX_QUERY_LENGTH, MAX_WILDCARDS, QuerySyntaxError
from openhep.search._request import (
    FILTER_NAMES,
    MAX_CURSOR_LENGTH,
    MAX_OFFSET,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    NESTED_FACETS,
    SORTS,
    TRUE_VALUES,
    Params,
    SearchRequest,
    SearchRequestError,
    is_true,
)
from openhep.search._service import Hit, SearchResult, SearchService
from openhep.search._suggest import Suggestion

__all__ = [
    "FILTER_NAMES",
    "MAX_CURSOR_LENGTH",
    "MAX_OFFSET",
    "MAX_PAGE",
    "MAX_PAGE_SIZE",
    "MAX_QUERY_LENGTH",
    "MAX_WILDCARDS",
    "NESTED_FACETS",
    "SORTS",
    "TRUE_VALUES",
    "Hit",
    "Params",
    "QuerySyntaxError",
    "SearchIndex",
    "SearchRequest",
    "SearchRequestError",
    "SearchResult",
    "SearchService",
    "Suggestion",
    "is_true",
    "open_index",
]
