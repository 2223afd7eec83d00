"""What every page shares: the footer names the running version (one source, the package's), the
favicon is linked and answered at ``/favicon.ico``."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import openhep

HTML = {"accept": "text/html"}
REPO = Path(__file__).resolve().parents[2]


def test_the_version_has_one_source() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "openhep.__version__"}
    # The installed metadata is built from it (pip install -e . after a change).
    assert version("openhep") == openhep.__version__


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/search?q=muon", 200),
        ("/search?q=title:(", 400),
        ("/record/12341", 200),  # its own version is 1: not the one in the footer
        ("/record/12341?version=9", 404),
        ("/docs", 200),
        ("/glossary", 200),
        ("/news", 200),
        ("/no/such/page", 404),
    ],
)
def test_every_page_kind_names_the_running_version(
    client: TestClient, path: str, status: int
) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == status
    footer = re.search(r'<footer class="site-footer">.*?</footer>', response.text, re.DOTALL)
    assert footer is not None, path
    assert re.search(r"OpenHEP (\S+)</p>", footer.group(0)).group(1) == openhep.__version__  # type: ignore[union-attr]


def test_the_favicon_is_linked_and_served(client: TestClient) -> None:
    text = client.get("/", headers=HTML).text
    assert '<link rel="icon" href="http://testserver/favicon.ico" sizes="32x32">' in text
    assert 'href="http://testserver/static/img/favicon.svg" type="image/svg+xml"' in text
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/vnd.microsoft.icon"
    # An ICO (reserved 0, type 1, one image) holding a 32x32 PNG.
    assert icon.content[:6] == b"\x00\x00\x01\x00\x01\x00"
    assert icon.content[22:30] == b"\x89PNG\r\n\x1a\n"
    svg = client.get("/static/img/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg") and "<script" not in svg.text
