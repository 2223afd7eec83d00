"""Error answers for people: which requests get an HTML error page, and that page.

A request gets the HTML page when it asks for HTML (its ``Accept`` names ``text/html``, as
every browser's does) and its path is a page's: not under ``/api/``, not a file download
(``/eos/…``, ``/record/<recid>/files/…``, ``/record/<recid>/file_index/…``). Everything
else — scripts, ``curl``, ``cernopendata-client``, API and download routes — keeps CODP's
JSON answer ``{"status", "message"}``.
"""

from __future__ import annotations

import logging
import re
from html import escape
from http import HTTPStatus

from fastapi import Request
from fastapi.responses import HTMLResponse

from openhep.web.pages._render import render

logger = logging.getLogger("openhep.web")

_MACHINE_PATHS = re.compile(r"^(?:/api(?:/|$)|//?eos/|/record/[^/]+/(?:files|file_index)(?:/|$))")

#: What the page's heading says for a status; others use the HTTP reason phrase.
TITLES = {
    400: "This request cannot be answered as it is",
    404: "Page not found",
    405: "Not available this way",
    500: "Something went wrong on our side",
    503: "Temporarily unavailable",
}


def wants_html(request: Request) -> bool:
    """True when the error answer to ``request`` should be the HTML page (module docstring)."""
    if _MACHINE_PATHS.match(request.url.path):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """The error page: the site's layout, what went wrong, a search box and ways on."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    query = request.query_params.get("q", "") if status == 400 else ""
    try:
        response = render(
            request,
            "error.html",
            status_code=status,
            status=status,
            reason=reason,
            heading=TITLES.get(status, reason),
            message=message,
            query=query[:2000],
            path=request.url.path,
        )
    except Exception:
        # The page itself failed (a broken template): a bare page still tells the reader.
        logger.exception("the error page for %s failed to render", request.url.path)
        response = HTMLResponse(
            f"<!doctype html><html lang='en'><title>{status} {escape(reason)}</title>"
            f"<h1>{escape(reason)}</h1><p>{escape(message)}</p><p><a href='/'>OpenHEP</a></p>",
            status_code=status,
        )
    if headers:
        response.headers.update(headers)
    return response


def not_found_message(request: Request, detail: str) -> str:
    """FastAPI's ``Not Found`` for an unknown address, said for a reader."""
    if detail == "Not Found":
        return f"There is no page at {request.url.path}. It may have moved, or the link is wrong."
    return detail
