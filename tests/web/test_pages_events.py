"""The event display page ``/visualise/events/<recid>``: what it hands its script (the API,
the file, the event, the detector outline as JSON data), plotly.js served by us (no CDN, no
inline script), record data escaped, the record pages that link to it, and 4xx."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from _services.events import (
    DOUBLEMU_IG,
    EMBARGOED,
    HOSTILE,
    HOSTILE_KEY,
    HOSTILE_TITLE,
    HTO4L,
    HTO4L_FILE,
    NANO_DIMUON,
    ZMUMU_CSV,
    ZMUMU_ROOT,
    build_events_home,
)
from _services.html import html_problems
from openhep.events import DETECTOR
from openhep.settings import Settings
from openhep.web import create_app
from openhep.web._security import EVENT_PAGE_POLICY, PAGE_POLICY

PAGE = "/visualise/events"


@pytest.fixture(scope="module")
def client(
    codp_dir: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    home = build_events_home(tmp_path_factory.mktemp("event-pages"), codp_dir, anchors)
    with TestClient(create_app(Settings(home=home, file_origins=""))) as test_client:
        yield test_client


def page(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    if path.startswith(PAGE):
        # plotly.js writes style elements; script stays the portal's own files only.
        assert policy == EVENT_PAGE_POLICY
        assert "script-src 'self';" in policy and "unsafe-eval" not in policy
    else:
        assert policy == PAGE_POLICY
    assert html_problems(response.text) == []
    return response.text


def attribute(html: str, name: str) -> str:
    found = re.search(rf'<div id="ev-app"[^>]* {name}="([^"]*)"', html)
    assert found, name
    return unescape(found.group(1))


def test_the_page_hands_its_script_the_api_the_file_and_the_detector(client: TestClient) -> None:
    html = page(client, f"{PAGE}/{HTO4L}")
    assert attribute(html, "data-api") == f"http://testserver/api/records/{HTO4L}/events"
    assert attribute(html, "data-file") == HTO4L_FILE
    assert attribute(html, "data-event") == "0"
    # Scripts: plotly.js from /vendor and ours, both files of this portal; the one other
    # <script> is JSON data (never run), the detector outline.
    tags = re.findall(r"<script([^>]*)>", html)
    sources = [re.search(r'src="([^"]+)"', t).group(1) for t in tags if "src=" in t]  # type: ignore[union-attr]
    assert [s.rsplit("/", 1)[-1] for s in sources][1:] == ["events.js"]
    assert re.search(r"^http://testserver/vendor/plotly-[\w.]+\.min\.js$", sources[0])
    assert [t for t in tags if "src=" not in t] == [' type="application/json" id="ev-detector"']
    data = re.search(r'<script type="application/json" id="ev-detector">(.*?)</script>', html, re.S)
    assert data and json.loads(data.group(1)) == json.loads(json.dumps(DETECTOR))
    assert f'href="http://testserver/record/{HTO4L}"' in html
    # The plotly.js it names is served.
    assert client.get(sources[0]).status_code == 200


def test_the_address_chooses_the_file_and_the_event(client: TestClient) -> None:
    html = page(client, f"{PAGE}/{NANO_DIMUON}?file=nano_dimuon.root&event=7")
    assert attribute(html, "data-file") == "nano_dimuon.root"
    assert attribute(html, "data-event") == "7"
    permalink = re.search(r'id="ev-permalink" href="([^"]+)"', html)
    assert permalink and unescape(permalink.group(1)).endswith("?file=nano_dimuon.root&event=7")


def test_record_data_is_text_on_the_page(client: TestClient) -> None:
    html = page(client, f"{PAGE}/{HOSTILE}")
    assert "<script>alert" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in html
    assert HOSTILE_TITLE not in html and HOSTILE_KEY not in html
    assert attribute(html, "data-file") == HOSTILE_KEY


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{PAGE}/999999", 404),
        (f"{PAGE}/{EMBARGOED}", 404),
        (f"{PAGE}/{ZMUMU_CSV}", 404),  # no file the display reads
        (f"{PAGE}/not-a-recid", 404),
        (f"{PAGE}/{HTO4L}?event=-1", 400),
        (f"{PAGE}/{HTO4L}?event=abc", 400),
        (f"{PAGE}/{HTO4L}?zoom=2", 400),
        (f"{PAGE}/{HTO4L}?file=" + "x" * 1100, 400),
    ],
)
def test_what_the_page_cannot_show_is_4xx(client: TestClient, path: str, status: int) -> None:
    response = client.get(path, headers={"accept": "text/html"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")


def test_record_pages_with_ig_or_nanoaod_files_link_to_it(client: TestClient) -> None:
    for recid in (HTO4L, DOUBLEMU_IG, NANO_DIMUON):
        html = page(client, f"/record/{recid}")
        assert f'href="http://testserver{PAGE}/{recid}"' in html, recid
        assert "Show events in the event display" in html
    for recid in (ZMUMU_CSV, ZMUMU_ROOT):
        assert PAGE not in page(client, f"/record/{recid}")


def test_the_page_answers_head(client: TestClient) -> None:
    response = client.head(f"{PAGE}/{HTO4L}")
    assert response.status_code == 200 and response.content == b""
