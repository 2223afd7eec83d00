"""What the pages' shortcuts must not change: memoized texts follow a record's new version (the
search page's plain-text descriptions, the record page's sanitised HTML), a record page lists
its first authors and folds the rest, and builds rows for the files of the page it shows only
(data files, then file indices, five a page, one page holding both).

Records are the real CODP DoubleMuParked derived records, rewritten as a curator would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from _services.serve import run_openhep
from openhep.model import validate_record
from openhep.services import Portal
from openhep.settings import Settings
from openhep.web import create_app
from openhep.web.pages.records import FILES_PER_PAGE, LISTED_AUTHORS

RECORDS_FILE = "cms-derived-nanoaod-outreach-DoubleMuParked.json"
RECID = "12341"
HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
def record(codp_dir: Path) -> dict[str, Any]:
    records: list[dict[str, Any]] = json.loads((codp_dir / RECORDS_FILE).read_text())
    return next(r for r in records if str(r["recid"]) == RECID)


@pytest.fixture
def client(tmp_path: Path, codp_dir: Path) -> Iterator[TestClient]:
    home = tmp_path / "home"
    home.mkdir()
    run_openhep(home, "ingest", str(codp_dir / RECORDS_FILE))
    with TestClient(create_app(Settings(home=home))) as test_client:
        yield test_client


def rewrite(client: TestClient, record: dict[str, Any], **changes: Any) -> None:
    """A new version of ``record`` with ``changes`` (what a curator's ingest does)."""
    portal: Portal = client.app.state.portal  # type: ignore[attr-defined]
    portal.catalog.write([validate_record({**record, **changes})])


def page(client: TestClient, path: str) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, (path, response.text[:500])
    return response.text


def test_a_changed_description_shows_on_the_search_and_record_pages(
    client: TestClient, record: dict[str, Any]
) -> None:
    for _ in range(2):  # twice: what was memoized is what is shown
        assert "about 60 mio. data events" in page(client, "/search?q=DoubleMuParked")
        assert "about 60 mio. data events" in page(client, f"/record/{RECID}")
    abstract = {**record["abstract"], "description": "<p>Rewritten: <b>muons</b> only.</p>"}
    rewrite(client, record, abstract=abstract)
    search = page(client, "/search?q=DoubleMuParked")
    assert "Rewritten: muons only." in search
    assert "about 60 mio. data events" not in search
    text = page(client, f"/record/{RECID}")
    assert "<p>Rewritten: <b>muons</b> only.</p>" in text
    assert "about 60 mio. data events" not in text


def test_the_first_authors_are_listed_and_the_rest_folded(
    client: TestClient, record: dict[str, Any]
) -> None:
    named = [{"name": f"Author {n:03}"} for n in range(LISTED_AUTHORS + 7)]
    rewrite(client, record, authors=[*named[:2], {"name": ""}, *named[2:]])
    text = page(client, f"/record/{RECID}")
    assert "Author 000; Author 001; Author 002; et al." in text
    shown, folded = text.split('<details class="authors-more">', 1)
    assert re.findall(r"<li>Author (\d{3})", shown) == [f"{n:03}" for n in range(LISTED_AUTHORS)]
    # Every other name is in the page too, folded (no script needed to see them).
    more = [f"{n:03}" for n in range(LISTED_AUTHORS, LISTED_AUTHORS + 7)]
    assert re.findall(r"<li>Author (\d{3})", folded) == more
    assert f"<summary>7 more authors ({LISTED_AUTHORS + 7} in all)</summary>" in folded

    rewrite(client, record, authors=named[:LISTED_AUTHORS])
    text = page(client, f"/record/{RECID}")
    assert len(re.findall(r"<li>Author (\d{3})", text)) == LISTED_AUTHORS
    assert "authors-more" not in text


def test_a_files_page_shows_data_files_then_indices(
    client: TestClient, record: dict[str, Any]
) -> None:
    base = "root://eospublic.cern.ch//eos/opendata/cms/derived-data/test"
    data = [
        {"checksum": f"adler32:0000000{n}", "size": 1000 + n, "uri": f"{base}/data_{n}.root"}
        for n in range(7)
    ]
    indices = [
        {
            "checksum": f"adler32:1000000{n}",
            "size": 10 + n,
            "type": f"index.{extension}",
            "uri": f"{base}/file-indexes/part_{n}_file_index.{extension}",
            "description": f"Index {n}",
        }
        for n in range(4)
        for extension in ("json", "txt")
    ]
    rewrite(client, record, files=[*data, *indices])
    # Data files (not held here) link to their origin; index keys are plain text.
    keys = re.compile(
        r'(?:<span>|rel="external noopener">)(data_\d\.root|part_\d_file_index)</(?:span|a)>'
    )
    shown = [keys.findall(page(client, f"/record/{RECID}?files_page={n}")) for n in (1, 2, 3)]
    everything = [f"data_{n}.root" for n in range(7)] + [f"part_{n}_file_index" for n in range(4)]
    assert shown == [everything[i : i + FILES_PER_PAGE] for i in (0, 5, 10)]
    text = page(client, f"/record/{RECID}?files_page=2")
    assert "7 files, 7.0 kB in all; 4 file indices listing the data files" in text
    assert f"<code>{base}/file-indexes/part_2_file_index.txt</code>" in text
    assert f"<code>{base}/data_5.root</code>" in text
    assert "<span>part_3_file_index</span>" not in text
