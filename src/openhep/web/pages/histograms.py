"""``/visualise/histograms/<recid>``: the histogram page of a record with ROOT or CSV files —
a variable from its ``dataset_semantics`` or an expression, a selection, bins, range and log
scale, plotted with plotly.js (served from the ``plotly`` package, never a CDN) — and
``/vendor/plotly-<version>.min.js``, that script.

The page's address holds the whole request (its query string is the GET API's), so a plot is
shared by its URL. The page runs no analysis itself: its script asks the API (and, without
script, a ``<noscript>`` image asks for the PNG).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from openhep.services import AnalysableRecord, Analyst
from openhep.web._deps import base_url
from openhep.web._params import strict_query_params
from openhep.web._security import HISTOGRAM_PAGE_POLICY
from openhep.web._threads import off_loop_router
from openhep.web.pages._math import math_text
from openhep.web.pages._plotly import PLOTLY_CACHE, plotly_script, plotly_url
from openhep.web.pages._render import query_string, render
from openhep.web.pages._routes import get_and_head, page_recid

router = off_loop_router(tags=["pages"])

#: What the form starts with when the address names no request.
DEFAULT_BINS = "60"
DEFAULT_RANGE = ("0", "120")
#: The form's fields, as the page's query string and the GET API name them.
FIELDS = ("expression", "selection", "file", "tree", "bins", "lo", "hi")
#: The longest value of a field the page puts back in its form (the API bounds them again).
MAX_FIELD = 1000


@router.get("/vendor/plotly-{version}.min.js", include_in_schema=False)
def plotly_js(version: str) -> FileResponse:
    current, path = plotly_script()
    if version != current:
        raise HTTPException(404, f"this portal serves plotly.js {current}, not {version[:40]}")
    return FileResponse(
        path,
        media_type="text/javascript; charset=utf-8",
        headers={"cache-control": PLOTLY_CACHE},
    )


def _form(params: dict[str, str], record: AnalysableRecord) -> dict[str, Any]:
    """The form's values: the address's, else the defaults (the first variable)."""
    form: dict[str, Any] = {name: params.get(name, "")[:MAX_FIELD] for name in FIELDS}
    plottable = [v for v in record.variables if v.plottable]
    if not form["expression"] and plottable and "expression" not in params:
        form["expression"] = plottable[0].variable
    form["bins"] = form["bins"] or DEFAULT_BINS
    form["lo"] = form["lo"] or DEFAULT_RANGE[0]
    form["hi"] = form["hi"] or DEFAULT_RANGE[1]
    form["log"] = params.get("log") in ("1", "on", "true")
    return form


def histogram_context(
    record: AnalysableRecord, params: dict[str, str], root: str
) -> dict[str, Any]:
    """What ``histograms.html`` shows: the record, its files and variables, the form, and the
    API addresses of the request the page's address holds (None: it holds none)."""
    form = _form(params, record)
    page_url = f"{root}/visualise/histograms/{quote(record.recid)}"
    api_url = f"{root}/api/analysis/histogram"
    requested = bool(params.get("expression"))
    api: dict[str, str] | None = None
    if requested:
        pairs = [("recid", record.recid)] + [(n, form[n]) for n in FIELDS]
        base = f"{api_url}?{query_string(pairs)}"
        api = {
            "json": f"{base}&format=json",
            "csv": f"{base}&format=csv",
            "png": f"{base}&format=png" + ("&log=1" if form["log"] else ""),
        }
    return {
        "recid": record.recid,
        "title": math_text(record.title) or f"Record {record.recid}",
        "record_url": f"{root}/record/{quote(record.recid)}",
        "page_url": page_url,
        "files": [f.key for f in record.files],
        "has_root": record.has_root,
        "variables": record.variables,
        "form": form,
        "api": api,
        "api_url": api_url,
        "plotly_url": plotly_url(root),
    }


@get_and_head(router, "/visualise/histograms/{recid}", response_class=HTMLResponse,
              summary="The histogram page of a record")  # fmt: skip
def histogram_page(request: Request) -> HTMLResponse:
    recid = page_recid(request)
    params = strict_query_params(request)
    analyst: Analyst = request.app.state.analyst
    record = analyst.analysable(recid)
    if not record.files:
        raise HTTPException(404, f"record {recid} has no ROOT or CSV file to make a histogram of")
    context = histogram_context(record, dict(params.items()), base_url(request))
    page = render(request, "histograms.html", **context)
    page.headers["content-security-policy"] = HISTOGRAM_PAGE_POLICY
    return page
