"""Searching: a query, CODP's filters and facets, sorts and pages → hits and facet counts."""

from __future__ import annotations

import base64
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import tantivy
from tantivy import Occur, Order, Query

from openhep.model import RECID
from openhep.search._index import SearchIndex
from openhep.search._query import Node, QuerySyntaxError, build, compile_query, parse
from openhep.search._request import (
    FILTER_GROUPS,
    MAX_OFFSET,
    NESTED_FACETS,
    TERMS_FACETS,
    SearchRequest,
    SearchRequestError,
)
from openhep.search._schema import TITLE_KEYS
from openhep.search._suggest import Suggestion, suggest

#: distribution.availability values of records left out unless a search asks for them.
_ONDEMAND = ("ondemand", "on demand")
#: From this offset on, title pages are found by the numeric title_key first (see _title_page).
_TITLE_DIRECT_OFFSET = 50
#: CODP's event-count buckets.
NUMBER_EVENTS_BUCKETS = (
    ("0--999", 0, 1_000),
    ("1000--9999", 1_000, 10_000),
    ("10000--99999", 10_000, 100_000),
    ("100000--999999", 100_000, 1_000_000),
    ("1000000--9999999", 1_000_000, 10_000_000),
    ("10000000--", 10_000_000, None),
)
FACET_SIZE = 100
#: Facet answers kept per process (each a few kB).
AGGREGATION_CACHE_SIZE = 2048
_GROUP = FILTER_GROUPS
#: Filters of up to this many values are term queries, more a term-set query (see _terms).
_TERM_QUERIES = 16
_RANGE = re.compile(r"^(\d{1,12})?(--)?(\d{1,12})?$")


@dataclass(frozen=True, slots=True)
class Hit:
    recid: str
    metadata: dict[str, Any]
    created: str
    updated: str


@dataclass(frozen=True, slots=True)
class SearchResult:
    total: int
    hits: list[Hit]
    aggregations: dict[str, Any]
    sort: str
    next_cursor: str | None
    #: For a query that finds nothing: queries that would, with the same filters (did you mean).
    suggestions: list[Suggestion] = field(default_factory=list)


def _hit(doc: tantivy.Document) -> Hit:
    return Hit(
        recid=str(doc.get_first("recid")),
        metadata=orjson.loads(doc.get_first("source") or b"{}"),
        created=str(doc.get_first("created")),
        updated=str(doc.get_first("updated")),
    )


def _terms(schema: tantivy.Schema, name: str, values: Sequence[str]) -> Query:
    """Records whose ``name`` holds any of ``values``, each scored 1 (a filter, not a match).

    A few values are term queries: tantivy's term-set query walks the field's term dictionary,
    at 200k records 0.16 ms for one recid (a term query: 4 µs) and 0.18 ms for two experiments
    (two term queries: 0.014 ms).
    """
    if len(values) > _TERM_QUERIES:
        return Query.term_set_query(schema, name, list(values))
    terms = [Query.term_query(schema, name, value) for value in values]
    either = (
        terms[0]
        if len(terms) == 1
        else Query.boolean_query([(Occur.Should, term) for term in terms])
    )
    return Query.const_score_query(either, 1.0)


def _public(schema: tantivy.Schema, moment: int) -> tuple[Occur, Query]:
    """The clause that keeps a query to records public at ``moment`` (epoch seconds)."""
    # As "released by now", not "not embargoed": at 200k records the latter costs 1.8 ms
    # more over every record (a listing of everything), the former nothing measurable.
    return Occur.Must, _u64_range(schema, "visible_from", None, moment)


def _u64_range(schema: tantivy.Schema, name: str, low: int | None, high: int | None) -> Query:
    return Query.range_query(
        schema,
        name,
        tantivy.FieldType.Unsigned,
        low if low is not None else 0,
        high if high is not None else 2**64 - 1,
        include_lower=True,
        include_upper=True,
    )


def _parse_range(name: str, value: str) -> tuple[int | None, int | None]:
    match = _RANGE.match(value.strip())
    if not match or not (match.group(1) or match.group(3)):
        raise SearchRequestError(
            f"{name}={value!r}: expected a number or a range such as 2010--2012 or 10000--"
        )
    low = int(match.group(1)) if match.group(1) else None
    high = int(match.group(3)) if match.group(3) else None
    if not match.group(2):
        high = low
    return low, high


def _secondary(schema: tantivy.Schema, name: str, values: Sequence[str]) -> Query:
    # CODP sends subtype=Collision; "Dataset::Collision" names one under its type.
    qualified = [v for v in values if "::" in v]
    bare = [v for v in values if "::" not in v]
    clauses = []
    if qualified:
        clauses.append((Occur.Should, _terms(schema, name, qualified)))
    if bare:
        clauses.append((Occur.Should, _terms(schema, f"{name}_name", bare)))
    return Query.boolean_query(clauses)


def _filter_query(schema: tantivy.Schema, name: str, values: Sequence[str]) -> Query:
    if name in ("subtype", "subcategory"):
        return _secondary(schema, name, values)
    if name in ("year", "number_events"):
        ranges = []
        for value in values:
            low, high = _parse_range(name, value)
            # Buckets are written upper-inclusive (1000--9999); a bare upper bound is too.
            ranges.append((Occur.Should, _u64_range(schema, name, low, high)))
        return Query.boolean_query(ranges)
    return _terms(schema, name, values)


def _must(*queries: Query) -> Query:
    return Query.boolean_query([(Occur.Must, q) for q in queries])


class SearchService:
    """Answers search requests from a ``SearchIndex`` (public records only)."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self.schema = index.schema
        # Facet counts depend only on the query, the other groups' filters, the index
        # generation and which records are public: they are kept until one of those changes.
        self._cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_scope: tuple[int, int] = (-1, -1)  # (generation, valid until: epoch s)

    def _tree(self, request: SearchRequest) -> tuple[Node, Query]:
        try:
            tree = parse(request.q)
            return tree, compile_query(tree, self.index.index)
        except QuerySyntaxError as exc:
            raise SearchRequestError(f"q: {exc}") from None

    def _visible(
        self, request: SearchRequest, now: datetime, searcher: tantivy.Searcher
    ) -> list[tuple[Occur, Query]]:
        """The clauses that keep a search to the records it may show."""
        clauses = [_public(self.schema, int(now.timestamp()))]
        # Leaving out on-demand records costs as much as a simple search; skipped when this
        # searcher's index has none (the common case).
        if not request.ondemand and any(
            searcher.doc_freq("availability", value) for value in _ONDEMAND
        ):
            clauses.append((Occur.MustNot, _terms(self.schema, "availability", list(_ONDEMAND))))
        return clauses

    def _filters(self, request: SearchRequest) -> dict[str, list[Query]]:
        by_group: dict[str, list[Query]] = {}
        for name, values in request.filters.items():
            # Names and bounds were checked when the request was made (SearchRequest).
            kept = [v for v in values if v != ""]
            if kept:
                query = _filter_query(self.schema, name, kept)
                by_group.setdefault(_GROUP[name], []).append(query)
        return by_group

    def search(self, request: SearchRequest, *, now: datetime | None = None) -> SearchResult:
        now = now or datetime.now(UTC)
        # The request's bounds hold (SearchRequest checks them when it is made).
        sort = request.sort or ("bestmatch" if request.q.strip() else "mostrecent")
        offset = (request.page - 1) * request.size
        after: int | None = None
        if request.cursor:
            offset, after = _decode_cursor(request.cursor, sort)
        if offset > MAX_OFFSET:
            raise SearchRequestError(f"pages end at offset {MAX_OFFSET:,}; narrow the search")

        generation = self.index.generation  # read before the searcher: never newer than it
        searcher = self.index.searcher()
        tree, compiled = self._tree(request)
        visible = self._visible(request, now, searcher)
        base = Query.boolean_query([(Occur.Must, compiled), *visible])
        groups = self._filters(request)
        everything = [q for qs in groups.values() for q in qs]
        query = _must(base, *everything) if everything else base
        if after is not None:
            # Keyset: the records after the last one seen, by their unique sort key; deep
            # pages then cost what the first page costs.
            keyed = _must(query, _u64_range(self.schema, "mostrecent_key", None, after - 1))
            remaining, hits, last_key = self._hits(searcher, keyed, sort, request.size, 0)
            total = offset + remaining
        else:
            total, hits, last_key = self._hits(searcher, query, sort, request.size, offset)
        aggregations = self._aggregations(searcher, generation, base, groups, request, now)
        end = offset + len(hits)
        key = last_key if sort == "mostrecent" else None
        next_cursor = _encode_cursor(sort, end, key) if end < total else None
        suggestions: list[Suggestion] = []
        if total == 0 and request.q.strip():
            scope = Query.boolean_query([*visible, *((Occur.Must, q) for q in everything)])
            suggestions = suggest(tree, self.index.index, searcher, scope)
        return SearchResult(total, hits, aggregations, sort, next_cursor, suggestions)

    def naming(
        self, recid: str, *, limit: int, now: datetime | None = None
    ) -> tuple[int, list[Hit]]:
        """The public records whose ``relations`` name record ``recid`` — a relation is stored
        on one record only, so this is how the other one finds it — in recid order: how many,
        and the first ``limit``."""
        # Callers pass a recid from a validated URL; this keeps the query text a plain term.
        if not RECID.match(recid):
            raise SearchRequestError("recid: expected 1 to 12 digits")
        moment = int((now or datetime.now(UTC)).timestamp())
        query = Query.boolean_query(
            [
                (Occur.Must, build(f"relations.recid:{recid}", self.index.index)),
                _public(self.schema, moment),
                (Occur.MustNot, Query.term_query(self.schema, "recid", recid)),
            ]
        )
        searcher = self.index.searcher()
        result = searcher.search(
            query, limit=limit, count=True, order_by_field="recid_num", order=Order.Asc
        )
        hits = [_hit(searcher.doc(address)) for _, address in result.hits]
        return int(result.count or 0), hits  # type: ignore[attr-defined]

    def _hits(
        self, searcher: tantivy.Searcher, query: Query, sort: str, size: int, offset: int
    ) -> tuple[int, list[Hit], int | None]:
        if sort in ("title", "title_desc") and offset >= _TITLE_DIRECT_OFFSET:
            result = searcher.search(query, limit=1, count=True)
            total = int(result.count or 0)  # type: ignore[attr-defined]
            found = self._title_page(searcher, query, sort == "title_desc", size, offset)
        else:
            options: dict[str, Any] = {}
            if sort == "mostrecent":
                options = {"order_by_field": "mostrecent_key", "order": Order.Desc}
            elif sort == "title":
                options = {"order_by_field": "title_sort", "order": Order.Asc}
            elif sort == "title_desc":
                options = {"order_by_field": "title_sort", "order": Order.Desc}
            result = searcher.search(query, limit=size, count=True, offset=offset, **options)
            total, found = int(result.count or 0), result.hits  # type: ignore[attr-defined]
        hits = []
        last_key: int | None = None
        for order_key, address in found:
            if isinstance(order_key, int):
                last_key = order_key
            hits.append(_hit(searcher.doc(address)))
        return total, hits, last_key

    def _title_page(
        self,
        searcher: tantivy.Searcher,
        query: Query,
        descending: bool,
        size: int,
        offset: int,
        level: int = 0,
    ) -> list[tuple[Any, tantivy.DocAddress]]:
        """A page of title order, without tantivy's slow string sort far past an offset.

        ``TITLE_KEYS[level]`` orders the records as ``title_sort`` does, only more coarsely,
        so any order consistent with it has the same key at each rank: the page's first record
        is in the group of the key at ``offset`` in the numeric sort, at ``offset`` minus the
        records of keys before it. That group's tail is a page of the next key, and what the
        page still needs comes from the start of the keys after it.
        """
        order = Order.Desc if descending else Order.Asc
        if offset < _TITLE_DIRECT_OFFSET or level == len(TITLE_KEYS):
            return searcher.search(
                query,
                limit=size,
                count=False,
                offset=offset,
                order_by_field="title_sort",
                order=order,
            ).hits
        field = TITLE_KEYS[level]
        coarse = searcher.search(
            query, limit=1, count=False, offset=offset, order_by_field=field, order=order
        ).hits
        if not coarse:
            return []
        key = int(coarse[0][0])
        above: tuple[int | None, int | None] = (key + 1, None)
        below: tuple[int | None, int | None] | None = (None, key - 1) if key else None
        ahead, behind = (above, below) if descending else (below, above)
        before = 0
        if ahead is not None:
            counted = searcher.search(
                _must(query, _u64_range(self.schema, field, *ahead)), limit=1, count=True
            )
            before = int(counted.count or 0)  # type: ignore[attr-defined]
        group = _must(query, _u64_range(self.schema, field, key, key))
        hits = self._title_page(searcher, group, descending, size, offset - before, level + 1)
        if len(hits) < size and behind is not None:
            after = _must(query, _u64_range(self.schema, field, *behind))
            hits += self._title_page(searcher, after, descending, size - len(hits), 0, level)
        return hits

    def _cache_valid(self, searcher: tantivy.Searcher, generation: int, now: datetime) -> bool:
        """Empty the facet cache when the index changed or an embargo ended since it filled.

        False when ``searcher`` predates the index's current generation: its answers must
        neither come from nor go into the cache.
        """
        if generation != self.index.generation:
            return False
        cached_generation, until = self._cache_scope
        moment = int(now.timestamp())
        if cached_generation != generation or moment >= until:
            self._cache.clear()
            self._cache_scope = (generation, self._next_release(searcher, moment))
        return True

    def _next_release(self, searcher: tantivy.Searcher, moment: int) -> int:
        upcoming = _u64_range(self.schema, "visible_from", moment + 1, None)
        found = searcher.search(
            upcoming, limit=1, order_by_field="visible_from", order=Order.Asc
        ).hits
        return int(found[0][0]) if found else 2**63

    def _aggregations(
        self,
        searcher: tantivy.Searcher,
        generation: int,
        base: Query,
        groups: dict[str, list[Query]],
        request: SearchRequest,
        now: datetime,
    ) -> dict[str, Any]:
        # Post-filter semantics: each facet counts the records that match every *other*
        # selected filter, so a selection never hides its alternatives. Facets of groups
        # without a selection share one aggregation.
        facets = [*NESTED_FACETS, *TERMS_FACETS, "year", "number_events"]
        plans: dict[tuple[str, ...], list[str]] = {}
        for facet in facets:
            others = tuple(sorted(g for g in groups if g != _GROUP[facet]))
            plans.setdefault(others, []).append(facet)
        selected = {
            name: tuple(values) for name, values in sorted(request.filters.items()) if values
        }
        out: dict[str, Any] = {}
        for others, names in plans.items():
            key = (
                request.q,
                request.ondemand,
                tuple((n, v) for n, v in selected.items() if _GROUP[n] in others),
                tuple(names),
            )
            with self._cache_lock:
                usable = self._cache_valid(searcher, generation, now)
                cached = self._cache.get(key) if usable else None
                if cached is not None:
                    self._cache.move_to_end(key)
            if cached is None:
                filters = [q for g in others for q in groups[g]]
                query = _must(base, *filters) if filters else base
                raw = searcher.aggregate(query, {n: _aggregation(n) for n in names})
                cached = {name: _shape(name, raw[name]) for name in names}
                with self._cache_lock:
                    if usable and self._cache_scope[0] == generation:
                        self._cache[key] = cached
                        if len(self._cache) > AGGREGATION_CACHE_SIZE:
                            self._cache.popitem(last=False)
            out.update(cached)
        return {name: out[name] for name in facets}


def _aggregation(name: str) -> dict[str, Any]:
    if name in NESTED_FACETS:
        child = NESTED_FACETS[name]
        return {
            "terms": {"field": name, "size": FACET_SIZE},
            "aggs": {child: {"terms": {"field": child, "size": FACET_SIZE}}},
        }
    if name == "number_events":
        ranges = [
            {"key": key, "from": low, **({"to": high} if high is not None else {})}
            for key, low, high in NUMBER_EVENTS_BUCKETS
        ]
        return {"range": {"field": "number_events", "ranges": ranges}}
    if name == "year":
        return {"terms": {"field": "year", "size": 200, "order": {"_key": "desc"}}}
    return {"terms": {"field": name, "size": FACET_SIZE}}


def _shape(name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """tantivy's aggregation answer in the shape CODP (Elasticsearch) gives."""
    buckets = []
    for bucket in raw.get("buckets", []):
        key = bucket["key"]
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        if name == "number_events" and not bucket["doc_count"]:
            continue
        shaped: dict[str, Any] = {"key": str(key), "doc_count": int(bucket["doc_count"])}
        if name in NESTED_FACETS:
            child = NESTED_FACETS[name]
            prefix = f"{key}::"
            shaped[child] = {
                "buckets": [
                    {"key": b["key"].removeprefix(prefix), "doc_count": int(b["doc_count"])}
                    for b in bucket.get(child, {}).get("buckets", [])
                    if str(b["key"]).startswith(prefix)
                ]
            }
        buckets.append(shaped)
    return {"buckets": buckets}


def _encode_cursor(sort: str, offset: int, key: int | None) -> str:
    payload: dict[str, Any] = {"s": sort, "o": offset}
    if key is not None:
        payload["k"] = key
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> tuple[int, int | None]:
    """The offset a cursor stands at and, for ``mostrecent``, the sort key of its last hit."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, key = data["o"], data.get("k")
        if data["s"] != sort or not isinstance(offset, int) or offset < 0:
            raise ValueError
        if key is not None and (not isinstance(key, int) or not 0 < key < 2**64):
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SearchRequestError(
            "search_after: not a cursor of this search; use links.next of the previous page"
        ) from None
    return int(offset), key
