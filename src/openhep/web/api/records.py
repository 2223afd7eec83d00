"""``/api/records``: search and records in the CERN Open Data Portal's JSON shapes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import QueryParams

from openhep.formats import api_record, schemaorg, search_hit
from openhep.model import RECID
from openhep.search import (
    FILTER_NAMES,
    MAX_CURSOR_LENGTH,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    MAX_QUERY_LENGTH,
    SORTS,
    SearchRequest,
    SearchRequestError,
    is_true,
)
from openhep.web._cache import cached
from openhep.web._deps import RecidPath, base_url, json_response, portal
from openhep.web._downloads import download_urls
from openhep.web._params import strict_query_params
from openhep.web._threads import off_loop_router

router = off_loop_router(prefix="/api/records", tags=["records"])


def _parameter(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, **extra}  # fmt: skip


# The hot endpoints read their parameters themselves (FastAPI's per-request validation cost
# about as much as a search): the OpenAPI document lists them here instead.
_SEARCH_PARAMETERS: list[dict[str, Any]] = [
    _parameter("q", "The query.", {"type": "string", "maxLength": MAX_QUERY_LENGTH, "default": ""}),
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


def _version(params: QueryParams) -> int | None:
    """``?version=N`` (None: the current one); SearchRequestError if it is not a version."""
    value = params.get("version")
    if value is None:
        return None
    high = 2**31 - 1
    digits = value.isascii() and value.isdigit() and len(value) <= 12
    if not digits or not 1 <= int(value) <= high:
        raise SearchRequestError(f"version: expected a whole number from 1 to {high:,}")
    return int(value)


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
@cached
def search_records(request: Request) -> Response:
    params = strict_query_params(request)
    search = SearchRequest.from_params(params)
    page, search_after = search.page, search.cursor
    result = portal(request).search(search)
    root = base_url(request)
    skip = is_true(params.get("skip_files"))
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
@cached
def get_record(request: Request) -> Response:
    recid = request.path_params["recid"]
    if not RECID.match(recid):
        raise SearchRequestError("recid: expected 1 to 12 digits")
    params = strict_query_params(request)
    version = _version(params)
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
            skip_files=is_true(params.get("skip_files")),
            availability=view.availability,
        )
    )


@router.get("/{recid}/versions", summary="A record's versions, oldest first")
@cached
def get_versions(request: Request, recid: RecidPath) -> Response:
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
