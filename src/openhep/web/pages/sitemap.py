"""``/sitemap.xml`` (sitemaps.org): the site's pages (docs held in the catalogue too) and every
public record's page, with the record's last update; a sitemap index of
``/sitemap/records-<n>.xml`` beyond 50,000 URLs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Annotated
from xml.sax.saxutils import escape

from fastapi import HTTPException, Path, Request
from fastapi.responses import Response

from openhep.catalog import DocumentSummary
from openhep.services import Portal
from openhep.web._cache import cached
from openhep.web._deps import base_url, portal
from openhep.web._threads import off_loop_router
from openhep.web.pages import _content
from openhep.web.pages._routes import get_and_head

router = off_loop_router(tags=["pages"])

#: The sitemaps.org limit of URLs in one file.
MAX_URLS = 50_000
_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
_URLSET = '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
MEDIA_TYPE = "application/xml"


def _url(loc: str, lastmod: str | None = None) -> str:
    modified = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
    return f"<url><loc>{escape(loc)}</loc>{modified}</url>\n"


def _w3c(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def site_pages(root: str, documents: Iterable[DocumentSummary] = ()) -> Iterator[str]:
    """The pages that are not records: home, search, docs (the portal's own, then those held
    in the catalogue, with their last update), glossary, news."""
    yield _url(f"{root}/")
    yield _url(f"{root}/search")
    yield _url(f"{root}/docs")
    own: set[str] = set()
    for page in _content.pages("docs"):
        own.add(page.slug)
        yield _url(f"{root}/docs/{page.slug}")
    for document in documents:
        if document.slug not in own:  # the portal's own page is the one served
            yield _url(f"{root}/docs/{document.slug}", _w3c(document.updated))
    yield _url(f"{root}/glossary")
    news = _content.pages("news")
    yield _url(f"{root}/news", news[0].date.isoformat() if news and news[0].date else None)
    for item in news:
        yield _url(f"{root}/news/{item.slug}", item.date.isoformat() if item.date else None)


def record_urls(root: str, updates: Iterable[tuple[str, datetime]]) -> Iterator[str]:
    for recid, updated in updates:
        yield _url(f"{root}/record/{recid}", _w3c(updated))


def build_sitemap(portal: Portal, root: str) -> str:
    """One ``urlset`` when everything fits in one file, else the index of the record files."""
    source = portal.sitemap()
    fixed = list(site_pages(root, source.documents))
    total = source.records
    if total + len(fixed) <= MAX_URLS:
        return "".join(
            [_HEAD, _URLSET, *fixed, *record_urls(root, portal.record_updates()), "</urlset>\n"]
        )
    parts = [_HEAD, '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n']
    parts.append(f"<sitemap><loc>{escape(root)}/sitemap/pages.xml</loc></sitemap>\n")
    for n in range(1, -(-total // MAX_URLS) + 1):
        parts.append(f"<sitemap><loc>{escape(root)}/sitemap/records-{n}.xml</loc></sitemap>\n")
    parts.append("</sitemapindex>\n")
    return "".join(parts)


# Plain ``def`` handlers: FastAPI runs them in its thread pool (they read the catalogue).


@get_and_head(router, "/sitemap.xml", summary="The sitemap (sitemaps.org)")
@cached
def sitemap(request: Request) -> Response:
    return Response(build_sitemap(portal(request), base_url(request)), media_type=MEDIA_TYPE)


@get_and_head(router, "/sitemap/pages.xml", summary="The sitemap of the pages that are not records")
def sitemap_pages(request: Request) -> Response:
    documents = portal(request).documents()
    text = "".join([_HEAD, _URLSET, *site_pages(base_url(request), documents), "</urlset>\n"])
    return Response(text, media_type=MEDIA_TYPE)


@get_and_head(router, "/sitemap/records-{n}.xml", summary="One file of the records' sitemap")
def sitemap_records(request: Request, n: Annotated[int, Path(ge=1, le=100_000)]) -> Response:
    updates = list(portal(request).record_updates(offset=(n - 1) * MAX_URLS, limit=MAX_URLS))
    if not updates:
        raise HTTPException(404, f"the records' sitemap has no file {n}")
    text = "".join([_HEAD, _URLSET, *record_urls(base_url(request), updates), "</urlset>\n"])
    return Response(text, media_type=MEDIA_TYPE)
