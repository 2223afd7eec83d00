"""``/docs``, ``/docs/<slug>`` and ``/glossary``: the user documentation, from the Markdown
files in ``openhep/web/content``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from openhep.web.pages import _content
from openhep.web.pages._render import render
from openhep.web.pages._routes import get_and_head

router = APIRouter(tags=["pages"])


@get_and_head(router, "/docs", response_class=HTMLResponse, summary="The documentation's index")
async def docs_index(request: Request) -> HTMLResponse:
    return render(request, "docs_index.html", pages=_content.pages("docs"))


@get_and_head(router, "/docs/{slug}", response_class=HTMLResponse, summary="A documentation page")
async def docs_page(request: Request, slug: str) -> HTMLResponse:
    found = _content.page("docs", slug)
    if found is None:
        raise HTTPException(404, f"There is no documentation page '{slug[:80]}'.")
    return render(request, "docs_page.html", page=found, pages=_content.pages("docs"))


@get_and_head(router, "/glossary", response_class=HTMLResponse, summary="Terms of the field")
async def glossary(request: Request) -> HTMLResponse:
    return render(request, "glossary.html", page=_content.single("glossary"))
