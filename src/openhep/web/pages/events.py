"""``/visualise/events/<recid>``: the event display of a record with iSpy (``.ig``) or NanoAOD
files — an event in 3D (rotate, zoom, pan) and in the r-phi and rho-z projections, drawn with
plotly.js (served from the ``plotly`` package, never a CDN), collections to show or hide, the
table of its physics objects and the invariant mass of those selected.

The page's address holds the file and the event (``?file=<key>&event=<index>``), so an event
is shared by its URL. The page reads no file itself: its script asks the events API
(``/api/records/<recid>/events…``), whose answers it draws.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from openhep.events import DETECTOR
from openhep.services import DisplayableRecord, EventViewer, parse_file, parse_index
from openhep.web._deps import base_url
from openhep.web._params import strict_query_params
from openhep.web._security import EVENT_PAGE_POLICY
from openhep.web._threads import off_loop_router
from openhep.web.pages._math import math_text
from openhep.web.pages._plotly import plotly_url
from openhep.web.pages._render import render
from openhep.web.pages._routes import get_and_head, page_recid

router = off_loop_router(tags=["pages"])

#: The page's parameters: what its address keeps.
PARAMETERS = ("file", "event")


def events_context(
    record: DisplayableRecord, file: str | None, event: int, root: str
) -> dict[str, Any]:
    """What ``events.html`` shows: the record, its event files, the file and event to open
    first, the API's and the page's addresses, and the detector outline to draw."""
    keys = [f.key for f in record.files]
    chosen = file if file is not None else keys[0]
    return {
        "recid": record.recid,
        "title": math_text(record.title) or f"Record {record.recid}",
        "record_url": f"{root}/record/{quote(record.recid)}",
        "page_url": f"{root}/visualise/events/{quote(record.recid)}",
        "api_url": f"{root}/api/records/{quote(record.recid)}/events",
        "files": keys if chosen in keys else [chosen, *keys],
        "file": chosen,
        "event": event,
        "detector": DETECTOR,
        "plotly_url": plotly_url(root),
    }


@get_and_head(router, "/visualise/events/{recid}", response_class=HTMLResponse,
              summary="The event display of a record")  # fmt: skip
def events_page(request: Request) -> HTMLResponse:
    recid = page_recid(request)
    params = strict_query_params(request)
    unknown = sorted(name[:40] for name in params if name not in PARAMETERS)
    if unknown:
        raise HTTPException(400, f"unknown parameter {unknown[0]!r}: the page takes file, event")
    file = parse_file(params.get("file"))
    event = parse_index(params.get("event") or "0")
    viewer: EventViewer = request.app.state.event_viewer
    record = viewer.displayable(recid)
    if file is None and not record.files:
        raise HTTPException(404, f"record {recid} has no iSpy (.ig) or NanoAOD file to show")
    # A file the record does not list as an event file (a ROOT file of a record that does
    # not say NanoAOD) is still tried: the API answers whether it holds events.
    context = events_context(record, file, event, base_url(request))
    page = render(request, "events.html", **context)
    page.headers["content-security-policy"] = EVENT_PAGE_POLICY
    return page
