"""``/news``, ``/news/<slug>`` and their RSS 2.0 feed ``/api/news.xml``: the portal's release
notes, from the dated Markdown files in ``openhep/web/content/news``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from xml.sax.saxutils import escape

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from openhep.web._cache import cached
from openhep.web._deps import base_url
from openhep.web._threads import off_loop_router
from openhep.web.pages import _content
from openhep.web.pages._render import render
from openhep.web.pages._routes import get_and_head

router = off_loop_router(tags=["pages"])

FEED_ITEMS = 20


def rfc822(day: date) -> str:
    """A news item's date as RSS wants it (RFC 822, noon UTC: the item has no time of day)."""
    return format_datetime(datetime.combine(day, time(12), tzinfo=UTC), usegmt=True)


@get_and_head(router, "/news", response_class=HTMLResponse, summary="The portal's news")
@cached
async def news_index(request: Request) -> HTMLResponse:
    return render(request, "news_index.html", items=_content.pages("news"))


@get_and_head(router, "/news/{slug}", response_class=HTMLResponse, summary="One news item")
@cached
async def news_item(request: Request, slug: str) -> HTMLResponse:
    found = _content.page("news", slug)
    if found is None:
        raise HTTPException(404, f"There is no news item '{slug[:80]}'.")
    return render(request, "news_item.html", item=found)


@get_and_head(router, "/api/news.xml", summary="The news as an RSS 2.0 feed")
@cached
async def news_feed(request: Request) -> Response:
    root = base_url(request)
    items = _content.pages("news")[:FEED_ITEMS]
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        "<title>OpenHEP news</title>\n"
        f"<link>{escape(root)}/news</link>\n"
        "<description>Release notes of this OpenHEP portal: what it publishes and how."
        "</description>\n<language>en</language>\n"
        f'<atom:link href="{escape(root)}/api/news.xml" rel="self" '
        'type="application/rss+xml"/>\n'
    ]
    if items and items[0].date:
        parts.append(f"<lastBuildDate>{rfc822(items[0].date)}</lastBuildDate>\n")
    for item in items:
        link = f"{root}/news/{item.slug}"
        parts.append(
            "<item>\n"
            f"<title>{escape(item.title)}</title>\n"
            f"<link>{escape(link)}</link>\n"
            f'<guid isPermaLink="true">{escape(link)}</guid>\n'
            + (f"<pubDate>{rfc822(item.date)}</pubDate>\n" if item.date else "")
            + f"<description>{escape(item.summary or item.title)}</description>\n"
            "</item>\n"
        )
    parts.append("</channel>\n</rss>\n")
    return Response("".join(parts), media_type="application/rss+xml")
