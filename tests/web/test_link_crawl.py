"""The link crawler: every internal link on every record page, docs page and a set of search
pages of the demo instance (the 7,535 CODP records, the sample records, CODP's docs pages)
answers 2xx/3xx — no link of ours leads to a 404.

In-process (``TestClient``), in shards: each shard fetches its share of the pages (each must
answer 200), collects every ``href``/``src`` on our origin, and requests each distinct one once
(``HEAD`` for file downloads, which take it, else ``GET``). A link to a page some shard fetches
as a page is left to that shard.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from openhep.settings import Settings
from openhep.web import create_app

ORIGIN = "http://testserver"
HTML = {"Accept": "text/html"}
SHARDS = 2
#: The search and index pages crawled besides every record and docs page.
SEARCH_PAGES = (
    "/",
    "/search",
    "/search?q=muon",
    "/search?q=Higgs&experiment=CMS",
    "/search?type=Dataset&subtype=Derived",
    "/search?experiment=ATLAS&page=2",
    "/search?type=Dataset&year=2012&sort=mostrecent",
    "/search?keywords=education",
    "/docs",
    "/docs?q=docker",
    "/docs?experiment=CMS",
    "/docs?type=news",
    "/glossary",
    "/news",
)


class _Urls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("href", "src") and v]


def internal_links(page: str, html: str) -> Iterator[str]:
    """The links of ``html`` (shown at ``page``) on our origin, without their fragment."""
    parser = _Urls()
    parser.feed(html)
    for url in parser.urls:
        parts = urlsplit(urljoin(ORIGIN + page, url))
        if parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}" == ORIGIN:
            yield parts._replace(scheme="", netloc="", fragment="").geturl()


def _is_download(link: str) -> bool:
    path = urlsplit(link).path
    return path.startswith("/eos/opendata/") or ("/files/" in path and path.startswith("/record/"))


@pytest.fixture(scope="module")
def demo_client(site_home: Path) -> Iterator[TestClient]:
    # Server errors are answers here (counted as failures), not exceptions.
    app = create_app(Settings(home=site_home, answer_cache_bytes=0))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def all_pages(client: TestClient) -> list[str]:
    """Every record page (every public recid), every docs page, the search pages."""
    recids: list[str] = []
    for number in range(1, 100):
        answer = client.get("/api/records/", params={"size": 1000, "page": number})
        hits = answer.json()["hits"]["hits"]
        if not hits:
            break
        recids += [hit["id"] for hit in hits]
    documents = client.get("/api/documents/").json()["documents"]
    docs = [urlsplit(d["links"]["html"]).path for d in documents]
    assert len(recids) >= 7535 and len(docs) >= 80, (len(recids), len(docs))
    return [*SEARCH_PAGES, *docs, *(f"/record/{recid}" for recid in recids)]


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_internal_link_answers(demo_client: TestClient, shard: int) -> None:
    pages = all_pages(demo_client)
    mine = pages[shard::SHARDS]
    bad_pages: dict[str, int] = {}
    found: defaultdict[str, set[str]] = defaultdict(set)
    for page in mine:
        answer = demo_client.get(page, headers=HTML)
        if answer.status_code != 200:
            bad_pages[page] = answer.status_code
            continue
        for link in internal_links(page, answer.text):
            found[link].add(page)
    # A link to one of the pages is checked by the shard that fetches that page.
    links = sorted(set(found) - set(pages))
    broken: dict[str, int] = {}
    for link in links:
        if _is_download(link):
            status = demo_client.head(link).status_code
        else:
            status = demo_client.get(link, headers=HTML).status_code
        if status >= 400:
            broken[link] = status
    report = [f"{page}: {status}" for page, status in sorted(bad_pages.items())] + [
        f"{link}: {status} (on {', '.join(sorted(found[link])[:3])})"
        for link, status in sorted(broken.items())
    ]
    assert not report, (
        f"shard {shard}/{SHARDS}: {len(mine):,} pages fetched ({len(bad_pages)} not 200),"
        f" {len(links):,} distinct internal links requested, {len(broken)} answered 4xx/5xx:\n"
        + "\n".join(report[:200])
    )
