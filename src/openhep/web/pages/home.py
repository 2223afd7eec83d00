"""``/``: the home page — the search box, records by type and by experiment, latest releases."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from openhep.search import SearchRequest
from openhep.web._cache import cached
from openhep.web._deps import portal
from openhep.web._threads import off_loop_router
from openhep.web.pages._render import render
from openhep.web.pages._summary import hit_summary

router = off_loop_router(tags=["pages"])

#: The record types a visitor explores by, as the home page names them.
TYPES = (
    ("Dataset", "Datasets", "Collision, simulated and derived data, ready to analyse."),
    ("Software", "Software", "Analysis code, tools and workflows used with the data."),
    ("Environment", "Environments", "Virtual machines, containers and conditions to run it in."),
    ("Documentation", "Documentation", "Guides, policies and reports about the data."),
)
#: Example queries under the search box.
EXAMPLES = (
    "Higgs",
    "title:muon",
    '"heavy-ion physics"',
    "energy:13TeV AND type:Dataset",
    "number_events:[1000 TO 5000]",
)
LATEST = 6


@router.get("/", response_class=HTMLResponse, summary="The home page")
@cached
def home_page(request: Request) -> HTMLResponse:
    # One search gives the counts (its facets) and the latest releases (its hits).
    result = portal(request).search(SearchRequest(size=LATEST, sort="mostrecent"))
    by_type = {b["key"]: b["doc_count"] for b in result.aggregations["type"]["buckets"]}
    types: list[dict[str, Any]] = [
        {"key": key, "label": label, "blurb": blurb, "count": by_type.get(key, 0)}
        for key, label, blurb in TYPES
    ]
    experiments = [
        {"key": b["key"], "count": b["doc_count"]}
        for b in result.aggregations["experiment"]["buckets"]
    ]
    return render(
        request,
        "home.html",
        total=result.total,
        types=types,
        experiments=experiments,
        latest=[hit_summary(h.recid, h.metadata) for h in result.hits],
        examples=EXAMPLES,
    )
