"""``/docs``, ``/docs/<slug>`` and ``/glossary``: the portal's own documentation (Markdown files
in ``openhep/web/content``) and CODP's documentation and news pages held in the catalogue,
listed, filtered and searched; their JSON twins ``/api/documents/`` and
``/api/documents/<slug>``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from openhep.catalog import DocumentSummary, StoredDocument
from openhep.model import DOCUMENT_TYPES
from openhep.services import Portal
from openhep.web._cache import cached
from openhep.web._deps import base_url, json_response, portal
from openhep.web._threads import off_loop_router
from openhep.web.pages import _content
from openhep.web.pages._links import site_links
from openhep.web.pages._render import query_string, render
from openhep.web.pages._routes import get_and_head
from openhep.web.pages._sanitize import sanitize_html, site_paths

router = off_loop_router(tags=["pages"])

TYPE_NAMES = {"doc": "Documentation", "news": "News"}
MAX_EXPERIMENT = 100

Q = Annotated[str, Query(max_length=200, description="Words that must all appear (title, text).")]
Experiment = Annotated[
    str | None, Query(max_length=MAX_EXPERIMENT, description="Only this experiment's pages.")
]
DocType = Annotated[
    str | None, Query(pattern="^(doc|news)$", description="`doc` or `news`: only those pages.")
]


def _own_pages(q: str, experiment: str | None, type: str | None) -> list[_content.Page]:
    """The portal's own docs matching the filters (they are docs of no experiment)."""
    if experiment or type == "news":
        return []
    words = q.lower().split()
    return [
        p
        for p in _content.pages("docs")
        if all(w in f"{p.title} {p.summary} {p.html}".lower() for w in words)
    ]


def _documents(service: Portal, q: str, experiment: str | None, type: str | None) -> list[Any]:
    try:
        return service.documents(q=q, experiment=experiment or None, type=type)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def _entry(root: str, document: DocumentSummary) -> dict[str, Any]:
    return {
        "href": f"{root}/docs/{document.slug}",
        "title": document.title,
        "summary": document.description,
        "type": TYPE_NAMES[document.type],
        "experiment": list(document.experiment),
        "tags": list(document.tags),
        "date": document.date_published,
    }


@get_and_head(router, "/docs", response_class=HTMLResponse, summary="The documentation's index")
@cached
def docs_index(
    request: Request, q: Q = "", experiment: Experiment = None, type: DocType = None
) -> HTMLResponse:
    service = portal(request)
    root = base_url(request)
    q = " ".join(q.split())
    found = _documents(service, q, experiment, type)
    counts = service.document_experiments()
    filters = {"q": q, "experiment": experiment, "type": type}
    filtered = bool(q or experiment or type)

    def url(**changed: str | None) -> str:
        query = query_string({**filters, **changed})
        return f"{root}/docs" + (f"?{query}" if query else "")

    return render(
        request,
        "docs_index.html",
        pages=_own_pages(q, experiment, type),
        documents=[_entry(root, d) for d in found],
        filtered=filtered,
        q=q,
        experiment=experiment or "",
        type=type or "",
        experiments=[
            {
                "name": name,
                "count": n,
                "href": url(experiment=None if name == experiment else name),
                "selected": name == experiment,
            }
            for name, n in counts.items()
        ],
        types=[
            {"name": label, "href": url(type=None if key == type else key), "selected": key == type}
            for key, label in TYPE_NAMES.items()
        ],
        clear_href=f"{root}/docs",
        json_url=f"{root}/api/documents/" + (f"?{query_string(filters)}" if filtered else ""),
    )


def document_html(service: Portal, root: str, document: StoredDocument) -> tuple[str, list[Any]]:
    """The body of a CODP page as safe HTML (its own HTML sanitised; links to pages not held
    here sent to the origin portal) and its ``##``/``###`` headings."""
    raw, headings = _content.render_markdown(document.document.body, html=True)
    base = f"/docs/{document.document.slug}"
    site = site_links(service, root, site_paths(raw, base), base)
    html = sanitize_html(raw, site, document=True)
    # A heading whose id the sanitiser had to drop (taken already) is left out of the contents.
    kept = [h for h in headings if f'id="{h.id}"' in html]
    return html, kept


@get_and_head(router, "/docs/{slug}", response_class=HTMLResponse, summary="A documentation page")
@cached
def docs_page(request: Request, slug: str) -> HTMLResponse:
    own = _content.page("docs", slug)
    if own is not None:
        return render(
            request,
            "docs_page.html",
            page=own,
            pages=_content.pages("docs"),
            json_url=f"{base_url(request)}/api/documents/{own.slug}",
        )
    service = portal(request)
    found = service.document(slug)
    if found is None:
        raise HTTPException(404, f"There is no documentation page '{slug[:80]}'.")
    root = base_url(request)
    html, headings = document_html(service, root, found)
    document = found.document
    return render(
        request,
        "docs_document.html",
        document=document,
        type_name=TYPE_NAMES[document.type],
        html=html,
        headings=headings,
        origin=service.origin_url,
        experiment_links=[
            {"name": e, "href": f"{root}/docs?{query_string({'experiment': e})}"}
            for e in document.experiment
        ],
        pages=_content.pages("docs"),
        json_url=f"{root}/api/documents/{document.slug}",
    )


@get_and_head(router, "/glossary", response_class=HTMLResponse, summary="Terms of the field")
@cached
async def glossary(request: Request) -> HTMLResponse:
    return render(request, "glossary.html", page=_content.single("glossary"))


# -- the JSON twins ------------------------------------------------------------------------
# Not /api/docs/: that address is the API's own reference (OpenAPI).


@get_and_head(router, "/api/documents/", summary="Documentation and news pages (JSON)")
@cached
def documents_api(
    request: Request, q: Q = "", experiment: Experiment = None, type: DocType = None
) -> Response:
    service = portal(request)
    root = base_url(request)
    q = " ".join(q.split())
    own: list[dict[str, Any]] = [
        {
            "slug": p.slug,
            "title": p.title,
            "type": "doc",
            "experiment": [],
            "tags": [],
            "description": p.summary,
            "date_published": None,
            "source": "portal",
            "links": {"html": f"{root}/docs/{p.slug}", "self": f"{root}/api/documents/{p.slug}"},
        }
        for p in _own_pages(q, experiment, type)
    ]
    held = [
        d.as_json()
        | {
            "source": "catalogue",
            "links": {"html": f"{root}/docs/{d.slug}", "self": f"{root}/api/documents/{d.slug}"},
        }
        for d in _documents(service, q, experiment, type)
    ]
    return json_response(
        {"total": len(own) + len(held), "documents": own + held, "types": list(DOCUMENT_TYPES)}
    )


@get_and_head(router, "/api/documents/{slug}", summary="One documentation page (JSON)")
@cached
def document_api(request: Request, slug: str) -> Response:
    root = base_url(request)
    links = {"html": f"{root}/docs/{slug[:80]}", "self": f"{root}/api/documents/{slug[:80]}"}
    own = _content.page("docs", slug)
    if own is not None:
        return json_response(
            {
                "slug": own.slug,
                "title": own.title,
                "type": "doc",
                "experiment": [],
                "tags": [],
                "description": own.summary,
                "date_published": None,
                "source": "portal",
                "html": own.html,
                "links": links,
            }
        )
    service = portal(request)
    found = service.document(slug)
    if found is None:
        raise HTTPException(404, f"There is no documentation page '{slug[:80]}'.")
    html, _ = document_html(service, root, found)
    return json_response(
        found.document.as_json()
        | {
            "source": "catalogue",
            "updated": found.updated.isoformat(),
            "html": html,
            "links": links,
        }
    )
