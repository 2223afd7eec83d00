"""CODP's documentation and news pages at ``/docs/<slug>`` (the demo instance: the real records
and the 80 real docs pages), their list, filters, search and JSON twins, the sitemap; links in
record texts and docs to pages not held here sent to the origin portal, marked external."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from _services.html import html_problems
from openhep.catalog import Catalog, read_documents
from openhep.model import parse_document
from openhep.settings import Settings
from openhep.web import create_app
from openhep.web.pages._sanitize import ALLOWED_TAGS, DOCUMENT_TAGS, SiteLinks, sanitize_html

HTML = {"Accept": "text/html"}
ORIGIN = "https://opendata.cern.ch"
ROOT = "http://testserver"


@pytest.fixture(scope="module")
def demo(site_home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=site_home))) as test_client:
        yield test_client


def page(client: TestClient, path: str) -> str:
    answer = client.get(path, headers=HTML)
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    assert html_problems(answer.text) == [], path
    return answer.text


def linking(codp_records: list[dict[str, Any]], needle: str) -> str:
    """The recid of a real record whose texts hold ``needle``."""
    return next(str(r["recid"]) for r in codp_records if needle in json.dumps(r))


# -- a docs page ---------------------------------------------------------------------------


def test_a_codp_page_shows_its_title_experiment_tags_and_anchors(demo: TestClient) -> None:
    html = page(demo, "/docs/cms-guide-docker")
    assert re.search(r"<h1>[^<]*Docker[^<]*</h1>", html)
    assert f'href="{ROOT}/docs?experiment=CMS"' in html and "Tags: Getting Started" in html
    # The anchors records link to (/docs/cms-guide-docker#nanoaod, #images).
    assert 'id="nanoaod"' in html and 'id="images"' in html
    twin = f"{ROOT}/api/documents/cms-guide-docker"
    assert f'<link rel="alternate" type="application/json" href="{twin}">' in html
    assert f'href="{ORIGIN}/docs/cms-guide-docker"' in html  # where it comes from


def test_images_not_held_here_become_links_to_the_origin(demo: TestClient) -> None:
    html = page(demo, "/docs/alice-getting-started")
    assert "/static/docs/" not in html.replace(f"{ORIGIN}/static/docs/", "")
    assert re.search(
        rf'<a href="{ORIGIN}/static/docs/getting-started-with-alice/get_started_1.png"'
        r' class="external" rel="external noopener">Image: ',
        html,
    )
    assert "<img" not in html.split("<main", 1)[1]


def test_relative_and_unknown_links_go_to_the_origin_held_ones_stay(demo: TestClient) -> None:
    overview = page(demo, "/docs/cms-mc-production-overview")
    assert f'href="{ORIGIN}/record/7299" class="external" rel="external noopener"' in overview
    delphi = page(demo, "/docs/delphi-getting-started")
    assert f'href="{ORIGIN}/docs/delphi_guide_docker" class="external"' in delphi
    guide = page(demo, "/docs/cms-getting-started-2010")
    assert f'<a href="{ROOT}/docs/cms-guide-for-condition-database">' in guide


def test_unknown_slugs_answer_404(demo: TestClient) -> None:
    for path in ("/docs/no-such-page", "/docs/UPPER", "/docs/" + "a" * 300):
        answer = demo.get(path, headers=HTML)
        assert answer.status_code == 404, path
        assert "no documentation page" in answer.text
    assert demo.get("/api/documents/no-such-page").json()["status"] == 404


def test_the_portals_own_docs_keep_their_pages(demo: TestClient) -> None:
    html = page(demo, "/docs/getting-started")
    assert "docs-nav" in html
    own = demo.get("/api/documents/getting-started").json()
    assert own["source"] == "portal" and own["html"]


# -- the list, filters and search -------------------------------------------------------------


def test_the_index_lists_the_portals_docs_and_codps(demo: TestClient, anchors: Path) -> None:
    html = page(demo, "/docs")
    for document in read_documents(anchors / "codp-docs"):
        assert f'href="{ROOT}/docs/{document.slug}"' in html, document.slug
    assert f'href="{ROOT}/docs/getting-started"' in html
    assert 'href="http://testserver/docs?experiment=DELPHI"' in html


@pytest.mark.parametrize(
    ("query", "count"),
    [("experiment=DELPHI", 9), ("type=news", 27), ("experiment=CMS&type=news", 12)],
)
def test_the_index_filters_by_experiment_and_type(demo: TestClient, query: str, count: int) -> None:
    html = page(demo, f"/docs?{query}")
    assert f"{count} pages" in html
    assert demo.get(f"/api/documents/?{query}").json()["total"] == count
    assert 'aria-current="true"' in html


def test_the_docs_search_finds_titles_and_bodies(demo: TestClient) -> None:
    html = page(demo, "/docs?q=docker")
    found = re.findall(r'<a href="http://testserver/docs/([a-z0-9-]+)">', html)
    assert found[:2] == ["cms-guide-docker", "delphi-guide-docker"]
    answer = demo.get("/api/documents/", params={"q": "condition database"}).json()
    assert "cms-guide-for-condition-database" in [d["slug"] for d in answer["documents"]]
    assert page(demo, "/docs?q=zzzz-nothing").count("0 pages") == 1


@pytest.mark.parametrize(
    "query",
    ["type=dataset", "q=" + "x" * 201, "q=" + "+".join("abcdefghijk"), "experiment=" + "E" * 101],
)
def test_bad_docs_parameters_answer_400(demo: TestClient, query: str) -> None:
    assert demo.get(f"/docs?{query}", headers=HTML).status_code == 400
    assert demo.get(f"/api/documents/?{query}").status_code == 400


def test_the_json_twin_of_a_page(demo: TestClient) -> None:
    answer = demo.get("/api/documents/about-alice").json()
    assert (answer["title"], answer["type"], answer["experiment"]) == (
        "About ALICE",
        "doc",
        ["ALICE"],
    )
    assert answer["body"].startswith("ALICE is the acronym") and "<h2" in answer["html"]
    assert answer["links"]["html"] == f"{ROOT}/docs/about-alice"
    listed = demo.get("/api/documents/").json()
    assert listed["total"] == 80 + 4


def test_the_sitemap_lists_codps_pages(demo: TestClient) -> None:
    xml = demo.get("/sitemap.xml").text
    assert re.search(rf"<loc>{ROOT}/docs/about-alice</loc><lastmod>20\d\d-", xml)
    assert xml.count(f"<loc>{ROOT}/docs/") == 80 + 4
    assert demo.get("/sitemap/pages.xml").text.count(f"<loc>{ROOT}/docs/") == 84


# -- links in record texts ----------------------------------------------------------------------


def test_record_links_to_held_docs_stay_here(
    demo: TestClient, client: TestClient, codp_records: list[dict[str, Any]]
) -> None:
    recid = linking(codp_records, 'href=\\"/docs/cms-guide-pileup-simulation')
    held = page(demo, f"/record/{recid}")
    assert f'<a href="{ROOT}/docs/cms-guide-pileup-simulation">' in held
    # ``client``'s instance holds the records only: the same link goes to CODP, marked.
    not_held = client.get(f"/record/{recid}", headers=HTML).text
    assert (
        f'<a href="{ORIGIN}/docs/cms-guide-pileup-simulation" class="external"'
        ' rel="external noopener">'
    ) in not_held


def test_record_links_to_pages_this_portal_has_not_go_to_the_origin(
    demo: TestClient, codp_records: list[dict[str, Any]]
) -> None:
    recid = linking(codp_records, 'href=\\"/about/CMS-Simulated-Dataset-Names')
    html = page(demo, f"/record/{recid}")
    assert f'href="{ORIGIN}/about/CMS-Simulated-Dataset-Names" class="external"' in html
    usage = linking(codp_records, '"url": "/docs/cms-virtual-machine-2011"')
    assert f'<a href="{ROOT}/docs/cms-virtual-machine-2011">' in page(demo, f"/record/{usage}")


def test_loading_docs_renews_cached_record_pages(
    tmp_path: Path, codp_dir: Path, anchors: Path
) -> None:
    from openhep.catalog._ingest import ingest

    needle = 'href=\\"/docs/cms-guide-pileup-simulation'
    source = next(p for p in sorted(codp_dir.glob("*.json")) if needle in p.read_text("utf-8"))
    recid = linking(json.loads(source.read_text("utf-8")), needle)
    home = tmp_path / "home"
    settings_ = Settings(home=home)
    ingest([source], lambda: Catalog.open(settings_))
    with TestClient(create_app(settings_)) as app:
        first = app.get(f"/record/{recid}", headers=HTML)
        assert app.get(f"/record/{recid}", headers=HTML).headers["x-cache"] == "hit"
        assert f'{ORIGIN}/docs/cms-guide-pileup-simulation" class="external"' in first.text
        with Catalog.open(settings_) as catalog:
            catalog.documents.put(read_documents(anchors / "codp-docs"))
        renewed = app.get(f"/record/{recid}", headers=HTML)
        assert renewed.headers["x-cache"] == "miss"
        assert f'<a href="{ROOT}/docs/cms-guide-pileup-simulation">' in renewed.text


# -- hostile documents ---------------------------------------------------------------------------

HOSTILE = """# Heading one

<script>alert(1)</script><img src=x onerror="alert(2)"><iframe src="https://evil.example"></iframe>
[a link](javascript:alert(3)) <a href="javascript:alert(4)" onclick="x()">raw</a>
<a href=" jAvAscript:alert(5)">spaced</a> <style>body{display:none}</style>
<h1 id="main">a second h1 claiming the page's id</h1> <div style="x" class="y">text</div>

## <a name="ok-anchor">Kept anchor</a>

<details><summary>More</summary>folded</details>
"""


def test_a_hostile_document_shows_as_data(tmp_path: Path) -> None:
    settings_ = Settings(home=tmp_path / "home")
    front = {
        "slug": "hostile",
        "title": "<script>alert('title')</script>",
        "type": {"primary": "News"},
        "experiment": ["<b>CMS</b>"],
        "tags": ['"><script>'],
        "short_description": {"content": "</title><script>x</script>"},
    }
    with Catalog.open(settings_) as catalog:
        catalog.documents.put([parse_document(front, HOSTILE)])
    with TestClient(create_app(settings_)) as app:
        html = page(app, "/docs/hostile")
    body = html.split("<main", 1)[1]
    assert "<script" not in html.replace('<script type="application/ld+json">', "")
    # markdown-it leaves a javascript: link as its text; no attribute holds one.
    assert not re.search(r'="\s*javascript:', html, re.IGNORECASE)
    assert "onerror" not in html and "onclick" not in html
    assert "<iframe" not in html and "<style>body" not in html and 'style="x"' not in html
    assert html.count("<h1") == 1 and html.count('id="main"') == 1  # <main>'s own
    assert 'id="ok-anchor"' in body and "<details><summary>More</summary>" in body
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in html


# -- the sanitiser's link rules -------------------------------------------------------------------


def test_site_links_send_what_is_not_held_to_the_origin() -> None:
    site = SiteLinks(ROOT, ORIGIN, frozenset({"/docs/gone", "/static/x.png"}), "/record/1")
    assert site.url("/docs/here#a") == (f"{ROOT}/docs/here#a", False)
    assert site.url("/docs/gone?x=1#y") == (f"{ORIGIN}/docs/gone?x=1#y", True)
    assert site.url("https://example.org/docs/gone") == ("https://example.org/docs/gone", False)
    assert site.url("javascript:alert(1)") == (None, False)
    assert site.url("../docs/gone") == (f"{ORIGIN}/docs/gone", True)  # read from /record/1
    assert site.url("#top") == ("#top", False)
    html = sanitize_html('<a href="/docs/gone">x</a> <img src="/static/x.png" alt="A plot">', site)
    assert html == (
        f'<a href="{ORIGIN}/docs/gone" class="external" rel="external noopener">x</a> '
        f'<a href="{ORIGIN}/static/x.png" class="external" rel="external noopener">'
        "Image: A plot</a>"
    )
    # Without an origin portal such a link is its text only.
    alone = SiteLinks(ROOT, "", frozenset({"/docs/gone"}))
    assert sanitize_html('<a href="/docs/gone">x</a>', alone) == "<a>x</a>"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["<h1>", "</h1>", "<h2 id='a'>", "<a name='a'>", "<a name='main'>", "</a>", "<p>",
             "<details>", "<summary>", "</details>", "<img src='/x.png'>", "<script>", "t",
             "<a href='../y'>", "<div class='c' onclick='x'>", "## ", "<table><tr><td>"]
        ),
        max_size=30,
    )
)  # fmt: skip
def test_documents_keep_only_allowed_tags_and_unique_ids(parts: list[str]) -> None:
    site = SiteLinks(ROOT, ORIGIN, frozenset({"/x.png", "/y"}), "/docs/p")
    html = sanitize_html("".join(parts), site, document=True)
    tags = set(re.findall(r"<([a-z0-9]+)", html))
    assert tags <= DOCUMENT_TAGS and "h1" not in tags
    ids = re.findall(r'id="([^"]*)"', html)
    assert len(ids) == len(set(ids)) and "main" not in ids
    assert "onclick" not in html and 'class="c"' not in html and "<img" not in html
    assert ALLOWED_TAGS <= DOCUMENT_TAGS
