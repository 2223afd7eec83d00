"""``/api/records``: search and records in the CERN Open Data Portal's JSON shapes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import QueryParams

from openhep.formats import api_record, schemaorg, search_hit
from openhep.search._service import (
    FILTER_NAMES,
    MAX_PAGE_SIZE,
    SORTS,
    SearchRequest,
    SearchRequestError,
)
from openhep.web._deps import RECID, RecidPath, base_url, json_response, portal
from openhep.web._downloads import download_urls
from openhep.web._params import strict_query_params

router = APIRouter(prefix="/api/records", tags=["records"])

_TRUE = {"1", "true", "yes", "on"}
MAX_Q_LENGTH = 2000
MAX_CURSOR_LENGTH = 200
MAX_PAGE = 10_000_000


def _parameter(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, **extra}  # fmt: skip


# The hot endpoints read their parameters themselves (FastAPI's per-request validation cost
# about as much as a search): the OpenAPI document lists them here instead.
_SEARCH_PARAMETERS: list[dict[str, Any]] = [
    _parameter("q", "The query.", {"type": "string", "maxLength": MAX_Q_LENGTH, "default": ""}),
    _parameter(
        "page", "Page number.", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}
    ),
    _parameter(
        "size",
        "Hits per page.",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 10},
    ),
    _parameter(
        "sort",
        f"One of {', '.join(SORTS)}; default bestmatch with q",
        {"type": "string", "enum": list(SORTS)},
    ),
    _parameter("skip_files", "1: leave out files", {"type": "string"}),
    _parameter("ondemand", "true: include on-demand data", {"type": "string"}),
    _parameter(
        "search_after", "Cursor from links.next", {"type": "string", "maxLength": MAX_CURSOR_LENGTH}
    ),
    *(
        _parameter(
            name,
            f"Filter by {name} (repeat for several values: any of them matches).",
            {"type": "array", "items": {"type": "string"}},
            style="form",
            explode=True,
        )
        for name in FILTER_NAMES
    ),
]
_RECORD_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "recid",
        "in": "path",
        "required": True,
        "description": "The record's recid.",
        "schema": {"type": "string", "pattern": RECID.pattern},
    },
    _parameter("skip_files", "1: leave out files", {"type": "string"}),
    _parameter("version", "A given version", {"type": "integer", "minimum": 1}),
]


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in _TRUE


def _number(params: QueryParams, name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 12) or not (
        low <= int(value) <= high
    ):
        raise SearchRequestError(f"{name}: expected a whole number from {low} to {high:,}")
    return int(value)


def _text(params: QueryParams, name: str, limit: int) -> str | None:
    value = params.get(name)
    if value is not None and len(value) > limit:
        raise SearchRequestError(f"{name}: at most {limit:,} characters")
    return value


def search_request(params: QueryParams) -> SearchRequest:
    """The search a query string asks for (``SearchRequestError`` for what cannot be read):
    the API and the search page read their parameters the same way."""
    filters = {name: params.getlist(name) for name in FILTER_NAMES if name in params}
    return SearchRequest(
        q=_text(params, "q", MAX_Q_LENGTH) or "",
        page=_number(params, "page", 1, 1, MAX_PAGE),
        size=_number(params, "size", 10, 1, MAX_PAGE_SIZE),
        sort=params.get("sort") or None,
        filters=filters,
        ondemand=_flag(params.get("ondemand")),
        cursor=_text(params, "search_after", MAX_CURSOR_LENGTH) or None,
    )


@router.get(
    "/",
    summary="Search records",
    description=(
        'Lucene-like query `q` (free words, `field:value`, `"phrases"`, AND/OR/NOT, '
        "wildcards, `[a TO b]` ranges), CODP's filters and facets, sorts, pages and a "
        "`search_after` cursor. Answers `{hits: {hits, total}, aggregations, links}`, and "
        "for a query that finds nothing `suggestions`: queries that would, `[{q, total, links}]`."
    ),
    openapi_extra={"parameters": _SEARCH_PARAMETERS},
)
async def search_records(request: Request) -> Response:
    params = strict_query_params(request)
    search = search_request(params)
    page, search_after = search.page, search.cursor
    result = portal(request).search(search)
    root = base_url(request)
    skip = _flag(params.get("skip_files"))
    hits = [
        search_hit(h.metadata, created=h.created, updated=h.updated, base_url=root, skip_files=skip)
        for h in result.hits
    ]
    kept = [(k, v) for k, v in params.multi_items() if k not in ("page", "search_after")]
    links = {"self": f"{root}/api/records/?{urlencode([*kept, ('page', str(page))])}"}
    if result.next_cursor:
        links["next"] = (
            f"{root}/api/records/?{urlencode([*kept, ('search_after', result.next_cursor)])}"
        )
    if page > 1 and not search_after:
        links["prev"] = f"{root}/api/records/?{urlencode([*kept, ('page', str(page - 1))])}"
    # Not CODP's: for a query that finds nothing, queries that would (did you mean).
    others = [(k, v) for k, v in kept if k != "q"]
    suggestions = [
        {
            "q": s.q,
            "total": s.total,
            "links": {"self": f"{root}/api/records/?{urlencode([('q', s.q), *others])}"},
        }
        for s in result.suggestions
    ]
    return json_response(
        {
            "hits": {"hits": hits, "total": result.total},
            "aggregations": result.aggregations,
            "links": links,
            "sort": result.sort,
            "suggestions": suggestions,
        }
    )


@router.get(
    "/{recid}",
    summary="One record (CODP JSON; schema.org with Accept: ld+json)",
    openapi_extra={"parameters": _RECORD_PARAMETERS},
)
async def get_record(request: Request) -> Response:
    recid = request.path_params["recid"]
    if not RECID.match(recid):
        raise SearchRequestError("recid: expected 1 to 12 digits")
    params = strict_query_params(request)
    version = _number(params, "version", 0, 1, 2**31 - 1) if "version" in params else None
    view = portal(request).record(recid, version)
    root = base_url(request)
    if "application/ld+json" in request.headers.get("accept", ""):
        # An older version's files are named by their paths (a key may since name others).
        urls = [url for url, _ in download_urls(view, root, current=version is None)]
        return json_response(
            schemaorg(view.stored.metadata, base_url=root, content_urls=urls),
            media_type="application/ld+json",
        )
    return json_response(
        api_record(
            view.stored.metadata,
            created=view.stored.created.isoformat(),
            updated=view.stored.updated.isoformat(),
            version=view.stored.version,
            base_url=root,
            index_entries=view.index_entries,
            skip_files=_flag(params.get("skip_files")),
            availability=view.availability,
        )
    )


@router.get("/{recid}/versions", summary="A record's versions, oldest first")
async def get_versions(request: Request, recid: RecidPath) -> Response:
    root = base_url(request)
    versions = portal(request).versions(recid)
    return json_response(
        {
            "id": recid,
            "versions": [
                {
                    "version": v.version,
                    "created": v.created.isoformat(),
                    "links": {"self": f"{root}/api/records/{recid}?version={v.version}"},
                }
                for v in versions
            ],
        }
    )
