"""``/api/records``: search and records in the CERN Open Data Portal's JSON shapes."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from openhep.formats import api_record, schemaorg, search_hit
from openhep.search._service import FILTER_NAMES, MAX_PAGE_SIZE, SORTS, SearchRequest
from openhep.web._deps import base_url, json_response, portal

router = APIRouter(prefix="/api/records", tags=["records"])

RecidPath = Annotated[str, Path(pattern=r"^[0-9]{1,12}$", description="The record's recid.")]
_TRUE = {"1", "true", "yes", "on"}

_FILTER_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"Filter by {name} (repeat for several values: any of them matches).",
        "schema": {"type": "array", "items": {"type": "string"}},
        "style": "form",
        "explode": True,
    }
    for name in FILTER_NAMES
]


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in _TRUE


@router.get(
    "/",
    summary="Search records",
    description=(
        'Lucene-like query `q` (free words, `field:value`, `"phrases"`, AND/OR/NOT, '
        "wildcards, `[a TO b]` ranges), CODP's filters and facets, sorts, pages and a "
        "`search_after` cursor. Answers `{hits: {hits, total}, aggregations, links}`."
    ),
    openapi_extra={"parameters": _FILTER_PARAMETERS},
)
async def search_records(
    request: Request,
    q: Annotated[str, Query(max_length=2000, description="The query.")] = "",
    page: Annotated[int, Query(ge=1, le=10_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 10,
    sort: Annotated[
        str | None, Query(description=f"One of {', '.join(SORTS)}; default bestmatch with q")
    ] = None,
    skip_files: Annotated[str | None, Query(description="1: leave out files")] = None,
    ondemand: Annotated[str | None, Query(description="true: include on-demand data")] = None,
    search_after: Annotated[
        str | None, Query(max_length=200, description="Cursor from links.next")
    ] = None,
) -> Response:
    params = request.query_params
    filters = {name: params.getlist(name) for name in FILTER_NAMES if name in params}
    search = SearchRequest(
        q=q,
        page=page,
        size=size,
        sort=sort or None,
        filters=filters,
        ondemand=_flag(ondemand),
        cursor=search_after or None,
    )
    result = portal(request).search(search)
    root = base_url(request)
    skip = _flag(skip_files)
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
    return json_response(
        {
            "hits": {"hits": hits, "total": result.total},
            "aggregations": result.aggregations,
            "links": links,
            "sort": result.sort,
        }
    )


@router.get("/{recid}", summary="One record (CODP JSON; schema.org with Accept: ld+json)")
async def get_record(
    request: Request,
    recid: RecidPath,
    skip_files: Annotated[str | None, Query(description="1: leave out files")] = None,
    version: Annotated[int | None, Query(ge=1, description="A given version")] = None,
) -> Response:
    view = portal(request).record(recid, version)
    root = base_url(request)
    if "application/ld+json" in request.headers.get("accept", ""):
        return json_response(
            schemaorg(view.stored.metadata, base_url=root), media_type="application/ld+json"
        )
    return json_response(
        api_record(
            view.stored.metadata,
            created=view.stored.created.isoformat(),
            updated=view.stored.updated.isoformat(),
            version=view.stored.version,
            base_url=root,
            index_entries=view.index_entries,
            skip_files=_flag(skip_files),
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
