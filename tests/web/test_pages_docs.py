"""The documentation, glossary and news pages, the RSS feed, the sitemap and the error pages,
against the app over the 7,535 real CODP records."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _services.html import html_problems
from openhep.search import FILTER_NAMES, SORTS
from openhep.search._schema import PATH_ALIASES, RANGE_FIELDS
from openhep.settings import Settings
from openhep.web import create_app
from openhep.web.pages import _content

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
CODP_RECORDS = 7535
DOCS = ("getting-started", "search-syntax", "downloading-and-verifying", "about")
GLOSSARY_TERMS = (
    "adler32", "aod", "checksum", "collision-energy", "cross-section", "doi", "eos",
    "file-index", "global-tag", "golden-json", "luminosity", "lumisection", "miniaod",
    "nanoaod", "pileup", "rntuple", "run", "trigger", "ttree", "xrootd",
)  # fmt: skip


class _Links(HTMLParser):
    """The ``href``s, ``id``s and forms of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.forms: list[dict[str, str | None]] = []
        self.inputs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "a" and attributes.get("href"):
            self.hrefs.append(str(attributes["href"]))
        if tag == "form":
            self.forms.append(attributes)
        if tag == "input":
            self.inputs.append(attributes)


def links(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def page_ok(client: TestClient, path: str) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, (path, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    assert html_problems(response.text) == [], path
    return response.text


# -- docs --------------------------------------------------------------------------------------


def test_the_docs_index_lists_every_page(client: TestClient) -> None:
    html = page_ok(client, "/docs")
    hrefs = links(html).hrefs
    shipped = [p.slug for p in _content.pages("docs")]
    assert set(DOCS) <= set(shipped)
    for slug in shipped:
        assert f"http://testserver/docs/{slug}" in hrefs
    # In the order their front matter gives: getting started first.
    assert shipped[0] == "getting-started"
    assert "http://testserver/glossary" in hrefs


@pytest.mark.parametrize("slug", DOCS)
def test_a_docs_page_renders_with_its_title_and_working_anchors(
    client: TestClient, slug: str
) -> None:
    html = page_ok(client, f"/docs/{slug}")
    doc = _content.page("docs", slug)
    assert doc is not None
    assert f"<h1>{doc.title}</h1>".replace("'", "&#39;") in html
    found = links(html)
    for href in found.hrefs:
        if href.startswith("#"):
            assert href[1:] in found.ids, f"{slug}: {href} points at no id"
    # Relative links between docs pages lead to pages that exist.
    for href in found.hrefs:
        target = href.split("#")[0]
        if target and "://" not in target and not target.startswith("/"):
            assert client.get(f"/docs/{target}").status_code == 200, (slug, href)


def test_getting_started_shows_cernopendata_client_with_server(client: TestClient) -> None:
    html = page_ok(client, "/docs/getting-started")
    for command in ("get-metadata", "get-file-locations", "download-files", "verify-files"):
        assert re.search(rf"cernopendata-client {command}\s+--recid \d+ --server", html), command


def test_search_syntax_documents_what_the_query_language_implements(client: TestClient) -> None:
    """Every short field name, range field, filter and sort of the implementation is named."""
    html = page_ok(client, "/docs/search-syntax")
    for name in (*PATH_ALIASES, *RANGE_FIELDS, *FILTER_NAMES, *SORTS):
        assert f"<code>{name}" in html, name
    for example in ("year:[2010 TO 2012]", "title:muon", "DoubleMu*", "NOT"):
        assert example in html


def test_downloading_page_covers_ranges_checksums_and_xrootd(client: TestClient) -> None:
    html = page_ok(client, "/docs/downloading-and-verifying")
    for needle in ("Range: bytes=", "adler32", "Digest", "xrdcp", "root://eospublic.cern.ch//eos"):
        assert needle in html, needle


def test_glossary_has_an_anchor_for_every_term(client: TestClient) -> None:
    html = page_ok(client, "/glossary")
    found = links(html)
    for term in GLOSSARY_TERMS:
        assert term in found.ids, term
        assert f"#{term}" in found.hrefs, f"the term index has no link to #{term}"
    for href in found.hrefs:
        if href.startswith("#"):
            assert href[1:] in found.ids, href


def test_markdown_html_is_not_passed_through() -> None:
    html, _ = _content.render_markdown(
        "# T\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=y>\n"
    )
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript:' not in html


def test_content_files_with_mistakes_are_named() -> None:
    with pytest.raises(_content.ContentError, match=r"news/x\.md: date: expected YYYY-MM-DD"):
        _content.parse_page("x", "---\ntitle: X\ndate: 23 Nov\n---\nbody\n", "news/x.md")
    with pytest.raises(_content.ContentError, match=r"a\.md: give it a 'title:'"):
        _content.parse_page("a", "no heading\n", "a.md")
    with pytest.raises(_content.ContentError, match="lower-case words and hyphens"):
        _content.parse_page("Bad_Name", "# T\n", "Bad_Name.md")
    page = _content.parse_page(
        "t", "# From the heading\n\n## One {#uno}\n\n## One\n\n## 4. Four\n\n## 2012 data\n", "t.md"
    )
    assert page.title == "From the heading"
    assert [h.id for h in page.headings] == ["uno", "one", "four", "h-2012-data"]
    assert [h.text for h in page.headings][:3] == ["One", "One", "4. Four"]


# -- news and RSS ------------------------------------------------------------------------------


def test_news_lists_items_newest_first(client: TestClient) -> None:
    html = page_ok(client, "/news")
    items = _content.pages("news")
    assert len(items) >= 4
    dates = [i.date for i in items]
    assert all(d is not None and d.year == 2026 and d.month == 11 for d in dates)
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    positions = [html.index(f"/news/{i.slug}") for i in items]
    assert positions == sorted(positions)
    assert "http://testserver/api/news.xml" in links(html).hrefs
    for item in items:
        assert item.title in page_ok(client, f"/news/{item.slug}").replace("&#39;", "'")


def test_rss_feed_is_valid_rss_2_with_absolute_links(client: TestClient) -> None:
    response = client.get("/api/news.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    rss = ET.fromstring(response.content)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel is not None
    for required in ("title", "link", "description"):
        assert (channel.findtext(required) or "").strip(), required
    items = channel.findall("item")
    assert len(items) == len(_content.pages("news"))
    for item in items:
        link = item.findtext("link") or ""
        assert urlsplit(link).scheme == "http" and urlsplit(link).netloc == "testserver"
        assert item.findtext("guid") == link
        published = parsedate_to_datetime(item.findtext("pubDate") or "")
        assert published.tzinfo is not None
        assert datetime(2026, 11, 1, tzinfo=UTC) <= published < datetime(2026, 12, 1, tzinfo=UTC)
        assert client.get(urlsplit(link).path, headers=HTML).status_code == 200


# -- sitemap -----------------------------------------------------------------------------------


def test_sitemap_lists_pages_and_every_public_record(client: TestClient) -> None:
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{SITEMAP_NS}urlset"
    urls = root.findall(f"{SITEMAP_NS}url")
    locs = [u.findtext(f"{SITEMAP_NS}loc") or "" for u in urls]
    assert len(locs) == len(set(locs)) <= 50_000
    paths = {urlsplit(loc).path for loc in locs}
    assert all(loc.startswith("http://testserver/") for loc in locs)
    for path in ("/", "/search", "/docs", "/glossary", "/news"):
        assert path in paths, path
    assert {f"/docs/{s}" for s in DOCS} <= paths
    assert {f"/news/{i.slug}" for i in _content.pages("news")} <= paths
    records = {
        u.findtext(f"{SITEMAP_NS}loc"): u
        for u in urls
        if "/record/" in (u.findtext(f"{SITEMAP_NS}loc") or "")
    }
    assert len(records) == CODP_RECORDS
    # lastmod is the record's last update, as the API says it.
    for recid in ("1", "12341", "5500"):
        entry = records[f"http://testserver/record/{recid}"]
        lastmod = datetime.fromisoformat(entry.findtext(f"{SITEMAP_NS}lastmod") or "")
        updated = datetime.fromisoformat(client.get(f"/api/records/{recid}").json()["updated"])
        assert abs((lastmod - updated).total_seconds()) < 1


def test_the_sitemap_is_fast_enough_to_serve(client: TestClient) -> None:
    client.get("/sitemap.xml")
    started = datetime.now(UTC)
    assert client.get("/sitemap.xml").status_code == 200
    assert (datetime.now(UTC) - started).total_seconds() < 2.0


def test_sitemap_record_files_for_large_catalogues(client: TestClient) -> None:
    first = client.get("/sitemap/records-1.xml")
    assert first.status_code == 200
    assert len(ET.fromstring(first.content).findall(f"{SITEMAP_NS}url")) == CODP_RECORDS
    assert client.get("/sitemap/records-2.xml").status_code == 404
    pages = ET.fromstring(client.get("/sitemap/pages.xml").content)
    assert len(pages.findall(f"{SITEMAP_NS}url")) >= 5 + len(DOCS)


# -- error pages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/no/such/page", 404, "There is no page at /no/such/page"),
        ("/docs/no-such-doc", 404, "no documentation page"),
        ("/news/no-such-item", 404, "no news item"),
        ("/record/999999999", 404, "record 999999999 does not exist"),
        ("/record/abc", 404, "record abc does not exist"),
        ("/sitemap/records-0.xml", 400, "n: Input should be greater than or equal to 1"),
        ("/static/css/nope.css", 404, "Not Found"),
    ],
)
def test_browsers_get_an_html_error_page(
    client: TestClient, path: str, status: int, says: str
) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert html_problems(response.text) == []
    assert says in response.text
    found = links(response.text)
    assert any(f.get("action") == "http://testserver/search" for f in found.forms)
    assert any(i.get("name") == "q" for i in found.inputs)
    assert "http://testserver/" in found.hrefs
    assert 'name="robots" content="noindex"' in response.text


@pytest.mark.parametrize(
    "path", ["/no/such/page", "/docs/no-such-doc", "/record/999999999", "/record/abc"]
)
def test_scripts_keep_getting_json_errors_from_pages(client: TestClient, path: str) -> None:
    for headers in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}):
        response = client.get(path, headers=headers)
        assert response.status_code in (400, 404)
        assert response.json()["status"] == response.status_code
        assert response.json()["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/records/999999999",
        "/api/no-such-route",
        "/api/records/?q=(muon",
        "/eos/opendata/cms/no-such-file.root",
        "http://testserver//eos/opendata/cms/no-such-file.root",
        "/record/12341/files/no-such-file.root",
        "/record/12341/file_index/no_such_file_index.txt",
    ],
)
def test_api_and_downloads_answer_json_even_to_browsers(client: TestClient, path: str) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code in (400, 404)
    assert response.headers["content-type"] == "application/json"
    assert response.json()["status"] == response.status_code


def test_only_a_bad_request_refills_the_error_page_search_box(client: TestClient) -> None:
    refused = client.get("/sitemap/records-0.xml", params={"q": '"x'}, headers=HTML)
    assert refused.status_code == 400
    assert 'value="&#34;x"' in refused.text
    missing = client.get("/no/such/page", params={"q": '"x'}, headers=HTML)
    assert missing.status_code == 404
    assert 'value=""' in missing.text


@pytest.fixture(scope="module")
def failing_app(web_home: Path) -> Iterator[TestClient]:
    app = create_app(Settings(home=web_home))

    async def broken() -> None:
        raise RuntimeError("secret detail that must not reach the reader")

    app.add_api_route("/docs-broken", broken)
    app.add_api_route("/api/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_unexpected_errors_are_a_500_page_for_browsers_and_json_for_the_api(
    failing_app: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="openhep.web"):
        page = failing_app.get("/docs-broken", headers=HTML)
        api = failing_app.get("/api/broken", headers=HTML)
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert html_problems(page.text) == []
    assert "Something went wrong" in page.text
    assert "secret detail" not in page.text and "Traceback" not in page.text
    assert api.status_code == 500
    assert api.json() == {
        "status": 500,
        "message": "an unexpected error occurred on the server; it was logged",
    }
    logged = [r for r in caplog.records if r.name == "openhep.web"]
    assert any("/docs-broken" in r.getMessage() and r.exc_info for r in logged)
    assert any("/api/broken" in r.getMessage() for r in logged)


# -- fuzzing -----------------------------------------------------------------------------------

_SEGMENT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
#: First segments whose routes take parameters (and may answer 400 to bad ones).
_ROUTED = {"api", "record", "eos", "static", "docs", "news", "sitemap", "search", "glossary", ""}


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(section=st.sampled_from(["docs", "news"]), slug=_SEGMENT, html=st.booleans())
def test_fuzzed_slugs_are_200_or_404(
    client: TestClient, section: str, slug: str, html: bool
) -> None:
    response = client.get(f"/{section}/{quote(slug, safe='')}", headers=HTML if html else {})
    assert response.status_code in (200, 404), (slug, response.status_code)
    if response.status_code == 200:
        # (a slug of dots and slashes names the index itself: "/docs/." is "/docs")
        assert _content.page(section, slug) is not None or slug.strip("./") == ""


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(segments=st.lists(_SEGMENT, min_size=1, max_size=4), html=st.booleans())
def test_fuzzed_paths_never_fail_the_server(
    client: TestClient, segments: list[str], html: bool
) -> None:
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    response = client.get(f"http://testserver{path}", headers=HTML if html else {})
    assert response.status_code < 500, (path, response.status_code)
    first = segments[0]
    # A "." or ".." segment anywhere is resolved by the client first ("/0/.." is "/").
    dot_segments = any(s in (".", "..") for s in segments)
    if first not in _ROUTED and "/" not in first and first.strip(".") != "" and not dot_segments:
        # No route starts there: a plain 404, as a page for browsers, as JSON for the rest.
        assert response.status_code == 404, path
        expected = "text/html" if html else "application/json"
        assert response.headers["content-type"].startswith(expected), path


@pytest.mark.parametrize(
    "path", ["/docs", "/docs/about", "/glossary", "/news", "/api/news.xml", "/sitemap.xml"]
)
def test_head_answers_the_headers_of_get(client: TestClient, path: str) -> None:
    head = client.head(path, headers=HTML)
    get = client.get(path, headers=HTML)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == str(len(get.content))
    assert client.head("/docs/no-such-doc", headers=HTML).status_code == 404


def test_the_openapi_document_lists_each_page_once(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in ("/docs", "/docs/{slug}", "/glossary", "/news", "/api/news.xml", "/sitemap.xml"):
        assert list(paths[path]) == ["get"], path


def test_a_method_a_page_does_not_take_is_a_405_page_with_allow(client: TestClient) -> None:
    response = client.post("/docs", headers=HTML)
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("text/html")
    assert "GET" in response.headers["allow"]
    assert html_problems(response.text) == []
    assert client.post("/api/news.xml", headers=HTML).headers["content-type"] == "application/json"
