"""The headers that keep other people's bytes and record data from running as script here.

The portal serves bytes it did not write (uploaded and ingested files, record texts), so what
a browser may do with each answer is said in headers, never left to the browser's guess
(``docs/security.md`` says why each one):

* every answer: ``X-Content-Type-Options: nosniff`` — a type is never sniffed, so bytes served
  as ``text/plain`` or ``image/png`` are never run as a page, a script or a style sheet;
* HTML pages: :data:`PAGE_POLICY` — script and style only from the portal's own files (no
  inline script, no event-handler attributes, no ``style=``), nothing from other sites, no
  ``<base>``, no framing, forms post only here; and ``Referrer-Policy``;
* stored files and everything else that is not a page: :data:`STORED_BYTES_POLICY` — no
  resource at all, and a ``sandbox`` that denies script even to an HTML or SVG document, so
  that a file that reaches a browser as a document never runs on the portal's origin.

:class:`SecurityHeadersMiddleware` adds them to every answer (error pages and cached answers
included) unless the route chose a policy of its own; the API reference page (``/api/docs``,
Swagger UI) gets :func:`api_docs_policy`.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Pages: the portal's own script and style files only. ``<script type="application/ld+json">``
#: is data, not script, and needs nothing here.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
#: The histogram page: the page policy, but plotly.js may write its own style elements (the
#: rules of its mode bar and hover labels, created at run time, so no hash can name them).
#: Script stays the portal's own files only; record data on the page is escaped text, so no
#: markup of a record's can carry a style there.
HISTOGRAM_PAGE_POLICY = PAGE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
#: The event display: the same (plotly.js draws its 3D views with WebGL, which needs no more:
#: no ``unsafe-eval``, no worker, no blob).
EVENT_PAGE_POLICY = HISTOGRAM_PAGE_POLICY
#: Stored files, file indices, JSON, XML: nothing loads, nothing runs, nothing frames them. An
#: image or plain text shown in the browser needs none of it (the browser draws the document
#: itself); ``sandbox`` without ``allow-scripts`` stops script even in a same-origin document.
STORED_BYTES_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"
#: What a link from a page tells another site: the portal's origin, not the page (which may
#: name a search); nothing from https to http.
REFERRER_POLICY = "strict-origin-when-cross-origin"
#: The headers every answer of stored bytes carries, whatever serves it.
STORED_BYTES_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": STORED_BYTES_POLICY,
}

# Swagger UI as FastAPI serves it: its files from jsDelivr, one inline script that starts it.
_SWAGGER_CDN = "https://cdn.jsdelivr.net"
_SWAGGER_ICON = "https://fastapi.tiangolo.com"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

_CSP = b"content-security-policy"
_NOSNIFF = b"x-content-type-options"
_REFERRER = b"referrer-policy"
_POLICIES = {True: PAGE_POLICY.encode("ascii"), False: STORED_BYTES_POLICY.encode("ascii")}


def api_docs_policy(html: str) -> str:
    """The policy of the Swagger UI page ``html``: its files from jsDelivr and exactly its own
    inline scripts (by hash), so that the API reference works and nothing else runs there."""
    hashes = " ".join(
        "'sha256-"
        + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode("ascii")
        + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    # Swagger UI writes style attributes from its script; the page holds no record data.
    return (
        f"default-src 'self'; script-src 'self' {_SWAGGER_CDN} {hashes}; "
        f"style-src 'self' {_SWAGGER_CDN} 'unsafe-inline'; img-src 'self' data: {_SWAGGER_ICON}; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


def secured(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` (an answer's) with those of this module it lacks."""
    present: set[bytes] = set()
    html = False
    for name, value in headers:
        name = name.lower()
        present.add(name)
        if name == b"content-type":
            html = value[:9].lower() == b"text/html"
    added = list(headers)
    if _NOSNIFF not in present:
        added.append((_NOSNIFF, b"nosniff"))
    if _CSP not in present:
        added.append((_CSP, _POLICIES[html]))
    if html and _REFERRER not in present:
        added.append((_REFERRER, REFERRER_POLICY.encode("ascii")))
    return added


class SecurityHeadersMiddleware:
    """Adds :func:`secured`'s headers to every HTTP answer of ``app``.

    It wraps the whole app, outside Starlette's own error middleware, so that the page of an
    unexpected error (500) carries them too, and outside the answer cache, so that a cached
    answer gets exactly the headers the app's would.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": secured(list(message.get("headers", ())))}
            await send(message)

        await self.app(scope, receive, send_secured)
