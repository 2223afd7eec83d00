"""The histogram page ``/visualise/histograms/<recid>``: its form from the record's
``dataset_semantics``, the request its address holds, plotly.js served by us (no CDN, no inline
script), record data escaped, the record pages that link to it, and 404s."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from _services.analysis import (
    EMBARGOED,
    HOSTILE,
    HOSTILE_DESCRIPTION,
    HOSTILE_KEY,
    HOSTILE_TITLE,
    HOSTILE_VARIABLE,
    ISPY,
    MANY,
    ZMUMU_CSV,
    ZMUMU_ROOT,
    build_analysis_home,
)
from _services.html import html_problems
from openhep.settings import Settings
from openhep.web import create_app
from openhep.web._security import HISTOGRAM_PAGE_POLICY, PAGE_POLICY

PAGE = "/visualise/histograms"


@pytest.fixture(scope="module")
def client(
    codp_dir: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    home = build_analysis_home(tmp_path_factory.mktemp("hist-pages"), codp_dir, anchors)
    with TestClient(create_app(Settings(home=home, file_origins=""))) as test_client:
        yield test_client


def page(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    if path.startswith(PAGE):
        # plotly.js writes style elements; script stays the portal's own files only.
        assert policy == HISTOGRAM_PAGE_POLICY
        assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy.split(";")[1]
    else:
        assert policy == PAGE_POLICY
    assert html_problems(response.text) == []
    return response.text


def scripts(html: str) -> list[str]:
    return re.findall(r"<script([^>]*)>", html)


def test_the_page_offers_the_records_variables_and_loads_only_our_scripts(
    client: TestClient,
) -> None:
    html = page(client, f"{PAGE}/{ZMUMU_CSV}")
    options = re.findall(r'<option value="([^"]*)"', html)
    # The record's dataset_semantics, in order, the dimuon mass first.
    assert options[:3] == ["", "M", "mass(p4(E1, px1, py1, pz1), p4(E2, px2, py2, pz2))"]
    assert 'name="expression"' in html and 'value="M"' in html  # the first variable by default
    assert '<option value="Type"' not in html and "<code>Type</code>" in html  # text: not offered
    sources = [re.search(r'src="([^"]+)"', s) for s in scripts(html)]
    local = [m.group(1) for m in sources if m]
    assert any(re.search(r"/vendor/plotly-[\w.]+\.min\.js$", s) for s in local)
    assert any(s.endswith("/static/js/histograms.js") for s in local)
    assert all(s.startswith("http://testserver/") for s in local)
    assert all("src=" in s for s in scripts(html))  # no inline script
    assert 'data-api="http://testserver/api/analysis/histogram"' in html
    assert "<noscript>" not in html  # no request in the address: nothing to draw yet
    assert f'href="http://testserver/record/{ZMUMU_CSV}"' in html


def test_the_address_holds_the_whole_request(client: TestClient) -> None:
    query = "expression=pt1&selection=Q1+%21%3D+Q2&bins=40&lo=0&hi=80&log=1"
    html = page(client, f"{PAGE}/{ZMUMU_ROOT}?{query}&tree=events")
    assert 'value="pt1"' in html and 'value="Q1 != Q2"' in html
    assert 'value="40"' in html and 'value="80"' in html and 'value="events"' in html
    assert re.search(r'id="h-log"[^>]*checked', html)
    png = unescape(re.search(r'<a id="h-png" href="([^"]+)"', html).group(1))  # type: ignore[union-attr]
    parts = urlsplit(png)
    assert parts.path == "/api/analysis/histogram"
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert params == {
        "recid": ZMUMU_ROOT, "expression": "pt1", "selection": "Q1 != Q2", "tree": "events",
        "bins": "40", "lo": "0", "hi": "80", "format": "png", "log": "1",
    }  # fmt: skip
    # Without script, the page shows that PNG.
    assert re.search(r"<noscript><img src=\"[^\"]+format=png&amp;log=1\"", html)
    # And the link answers it.
    image = client.get(png)
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def test_plotly_js_comes_from_the_plotly_package_with_long_caching(client: TestClient) -> None:
    html = page(client, f"{PAGE}/{ZMUMU_CSV}")
    src = re.search(r'src="http://testserver(/vendor/plotly-[^"]+)"', html).group(1)  # type: ignore[union-attr]
    response = client.get(src)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "immutable" in response.headers["cache-control"]
    assert b"plotly" in response.content[:2000].lower()
    assert len(response.content) > 1_000_000
    assert client.get("/vendor/plotly-0.0.1.min.js").status_code == 404


def test_record_data_is_text_on_the_page(client: TestClient) -> None:
    html = page(client, f"{PAGE}/{HOSTILE}")
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in html
    # The variable is an attribute value that stays one.
    assert 'value="M&#34;&gt;&lt;script&gt;alert(&#39;variable&#39;)&lt;/script&gt;"' in html
    assert "&lt;img src=x onerror=alert(&#39;description&#39;)&gt;" in html
    assert HOSTILE_TITLE not in html and HOSTILE_VARIABLE not in html
    assert HOSTILE_DESCRIPTION not in html and HOSTILE_KEY not in html
    # Chosen through the address too.
    html = page(client, f"{PAGE}/{HOSTILE}?expression=%22%3E%3Cscript%3Ex()%3C%2Fscript%3E")
    assert "<script>x()" not in html


@pytest.mark.parametrize("recid", ["999999", EMBARGOED, ISPY, "not-a-recid"])
def test_records_without_a_page_are_404(client: TestClient, recid: str) -> None:
    response = client.get(f"{PAGE}/{recid}", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_record_pages_with_root_or_csv_files_link_to_it(client: TestClient) -> None:
    for recid in (ZMUMU_ROOT, ZMUMU_CSV, MANY):
        html = page(client, f"/record/{recid}")
        assert f'href="http://testserver{PAGE}/{recid}"' in html
    assert PAGE not in page(client, f"/record/{ISPY}")


def test_the_page_answers_head(client: TestClient) -> None:
    response = client.head(f"{PAGE}/{ZMUMU_CSV}")
    assert response.status_code == 200 and response.content == b""
