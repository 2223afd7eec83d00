"""A person finding a dataset and its files in chromium: home → search "muon" → CMS → Dataset /
Derived → refined query (filters kept) → a record with many files, paged → a sample record whose
file index they download (JSON and TXT). Screenshots of record pages at desktop and phone widths.

The portal is a copy of the ``site`` instance in which ``openhep files index`` put a file index
(over a copy of its own file) on sample record 990001: CODP's records name index files whose
contents are on CERN's EOS, not here.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from _services.serve import run_openhep, serving

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

Shoot = Callable[[Page, str], Path]
SAMPLE_FILE = "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"
PHONE_WIDTH = 390


@pytest.fixture(scope="module")
def indexed_site(
    site_home: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``site`` plus a file index ``run_file_index`` on record 990001 (its own file, copied)."""
    base = tmp_path_factory.mktemp("record-flow")
    home = base / "home"
    shutil.copytree(site_home, home)
    run_dir = base / "run"
    run_dir.mkdir()
    shutil.copy(anchors / "cms-samples" / SAMPLE_FILE, run_dir / SAMPLE_FILE)
    run_openhep(home, "files", "index", "990001", "--from-dir", str(run_dir), "--name", "run")
    with serving(home, base / "serve.log") as url:
        yield url


def api(site: str, path: str) -> Any:
    with httpx.Client(trust_env=False) as http:
        response = http.get(f"{site}{path}")
    response.raise_for_status()
    return response.json()


def facet(page: Page, name: str) -> Any:
    return page.locator('nav[aria-label="Filters"] section').filter(
        has=page.get_by_role("heading", name=name, exact=True)
    )


def file_names(page: Page) -> list[str]:
    return [n.strip() for n in page.locator(".files .file__name").all_inner_texts()]


def test_search_to_a_record_its_files_and_a_file_index(
    indexed_site: str, page: Page, shoot: Shoot, tmp_path: Path
) -> None:
    site = indexed_site
    page.goto(f"{site}/")
    page.get_by_label("Search the portal").fill("muon")
    page.get_by_role("button", name="Search").first.click()
    page.wait_for_url(re.compile(r"/search\?q=muon$"))
    results = page.locator("ol.results > li")
    expect(results.first).to_be_visible()

    facet(page, "Experiment").get_by_role("link", name=re.compile(r"^CMS ")).click()
    expect(page.get_by_role("link", name="Remove Experiment: CMS")).to_be_visible()
    facet(page, "Type").get_by_role("link", name=re.compile(r"^Derived ")).click()
    chips = page.locator("ul.chips > li")
    expect(chips).to_contain_text(["Type: Dataset", "Subtype: Derived", "Experiment: CMS"])

    # A refined query keeps the filters.
    page.get_by_label("Search records").fill("muon neutrino")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_label("Search records")).to_have_value("muon neutrino")
    expect(chips).to_have_count(3)
    expect(chips).to_contain_text(["Type: Dataset", "Subtype: Derived", "Experiment: CMS"])
    assert "experiment=CMS" in page.url and "subtype=Derived" in page.url

    # A result with more than 5 files: W to muon and neutrino from 2010 (12 files).
    record = api(site, "/api/records/309")["metadata"]
    names = [f["key"] for f in record["files"]]
    assert len(names) == 12
    page.locator("ol.results h2 a", has_text=record["title"]).click()
    page.wait_for_url(re.compile(r"/record/309$"))
    expect(page.locator("h1")).to_have_text(record["title"])
    expect(page.locator(".files__summary")).to_contain_text("12 files")
    expect(page.get_by_text("Cite as")).to_be_visible()
    assert file_names(page) == names[:5]
    # Its files are on CERN's EOS: shown with their URI, never as a broken link.
    expect(page.locator(".files .file").first).to_contain_text(record["files"][0]["uri"])
    expect(page.locator(".files .file__name a")).to_have_count(0)
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url(re.compile(r"files_page=2#files$"))
    assert file_names(page) == names[5:10]
    page.get_by_role("link", name="Files page 3").click()
    assert file_names(page) == names[10:]
    expect(page.get_by_role("link", name="Next →")).to_have_count(0)
    expect(page.locator(".pager__current")).to_have_text("3")
    page.get_by_role("link", name="← Previous").click()
    assert file_names(page) == names[5:10]

    # Back to the results; another refinement finds the sample record with a file index.
    page.goto(f"{site}/search?q=muon+neutrino&experiment=CMS&type=Dataset&subtype=Derived")
    page.get_by_label("Search records").fill("DoubleMuParked")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(chips).to_have_count(3)
    sample = api(site, "/api/records/990001")["metadata"]
    page.locator("ol.results h2 a", has_text=sample["title"]).click()
    page.wait_for_url(re.compile(r"/record/990001$"))
    expect(page.locator("h1")).to_have_text(sample["title"])
    online = page.locator(".files .file--online")
    expect(online).to_contain_text("online")
    expect(online.get_by_role("link", name=SAMPLE_FILE, exact=True)).to_have_attribute(
        "href", f"{site}/record/990001/files/{SAMPLE_FILE}"
    )
    (index,) = sample["_file_indices"]
    index_row = page.locator(".files .index")
    expect(index_row).to_contain_text(f"{index['number_files']} file")

    with page.expect_download() as json_download:
        index_row.get_by_role("link", name="JSON").click()
    saved = tmp_path / "index.json"
    json_download.value.save_as(saved)
    assert json_download.value.suggested_filename.endswith(".json")
    listed = json.loads(saved.read_text())
    assert listed == [{k: f[k] for k in ("checksum", "key", "size", "uri")} for f in index["files"]]
    with page.expect_download() as txt_download:
        index_row.get_by_role("link", name="TXT").click()
    saved_txt = tmp_path / "index.txt"
    txt_download.value.save_as(saved_txt)
    assert saved_txt.read_text().splitlines() == [f["uri"] for f in index["files"]]
    shoot(page, "record-flow-990001")


def no_sideways_scroll(page: Page) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    # A phone zooms out (innerWidth grows) when something is wider than the screen.
    assert inner == PHONE_WIDTH and width <= inner, (width, inner)


@pytest.mark.parametrize(("recid", "name"), [("6004", "record"), ("990001", "record-sample")])
def test_record_pages_at_desktop_and_phone_widths(
    indexed_site: str, page: Page, phone_page: Page, shoot: Shoot, recid: str, name: str
) -> None:
    title = api(indexed_site, f"/api/records/{recid}")["metadata"]["title"]
    page.goto(f"{indexed_site}/record/{recid}")
    expect(page.locator("h1")).to_have_text(title)
    # The copy button appears with JS and a clipboard; the citation is there either way.
    expect(page.locator("#cite-text")).to_contain_text(title.rstrip("."))
    assert shoot(page, f"{name}-desktop").stat().st_size > 0
    phone_page.goto(f"{indexed_site}/record/{recid}")
    expect(phone_page.locator("h1")).to_have_text(title)
    no_sideways_scroll(phone_page)
    assert shoot(phone_page, f"{name}-phone").stat().st_size > 0
    phone_page.goto(f"{indexed_site}/record/{recid}?files_page=2")
    no_sideways_scroll(phone_page)


def test_the_record_page_works_without_javascript(
    indexed_site: str, page: Page, browser: Any
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        plain = context.new_page()
        plain.goto(f"{indexed_site}/record/6004")
        expect(plain.locator("#cite-text")).to_contain_text("DOI:10.7483/OPENDATA.CMS.YLIC.86ZZ")
        expect(plain.get_by_role("button", name="Copy citation")).to_be_hidden()
        plain.get_by_role("link", name="Files page 2").click()
        expect(plain.locator(".pager__current")).to_have_text("2")
    finally:
        context.close()
