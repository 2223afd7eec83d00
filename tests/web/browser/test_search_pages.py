"""A person searching in chromium: home → search → facets → refine → chips → sort, page size,
on-demand; screenshots of home and search at desktop and phone widths, no sideways scroll."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

Shoot = Callable[[Page, str], Path]


def api_total(site: str, **params: str | list[str]) -> int:
    with httpx.Client(trust_env=False) as http:
        response = http.get(f"{site}/api/records/", params={**params, "size": "1"})
    total: int = response.json()["hits"]["total"]
    return total


def facet(page: Page, name: str) -> Page:
    return page.locator('nav[aria-label="Filters"] section').filter(  # type: ignore[return-value]
        has=page.get_by_role("heading", name=name, exact=True)
    )


def count_text(total: int) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){total:,} records?\b")


def test_search_from_home_with_facets_chips_sort_and_size(
    site: str, page: Page, shoot: Shoot
) -> None:
    page.goto(f"{site}/")
    assert page.locator("h1").inner_text() == "Open data for particle physics"
    shoot(page, "home-desktop")
    page.get_by_label("Search the portal").fill("muon")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/search\?q=muon$"))
    status = page.locator(".result-count")
    expect(status).to_have_text(count_text(api_total(site, q="muon")))

    # The experiment facet, then Dataset → Derived.
    facet(page, "Experiment").get_by_role("link", name=re.compile(r"^CMS ")).click()
    expect(page.get_by_role("link", name="Remove Experiment: CMS")).to_be_visible()
    expect(status).to_have_text(count_text(api_total(site, q="muon", experiment="CMS")))
    types = facet(page, "Type")
    types.get_by_role("link", name=re.compile(r"^Derived ")).click()
    chips = page.locator("ul.chips > li")
    expect(chips).to_have_count(3)
    expect(chips).to_contain_text(["Type: Dataset", "Subtype: Derived", "Experiment: CMS"])
    selected = {"q": "muon", "experiment": "CMS", "type": "Dataset", "subtype": "Derived"}
    derived = api_total(site, **selected)
    assert derived > 0
    expect(status).to_have_text(count_text(derived))
    results = page.locator("ol.results > li")
    expect(results.first.locator(".badge--type")).to_contain_text("Derived")
    shoot(page, "search-desktop")

    # Refining the query keeps the filters.
    page.get_by_label("Search records").fill("muon dimuon")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_label("Search records")).to_have_value("muon dimuon")
    expect(chips).to_have_count(3)
    refined = api_total(site, **{**selected, "q": "muon dimuon"})
    expect(status).to_have_text(count_text(refined))
    assert refined <= derived

    # Removing a chip drops that filter only.
    page.get_by_role("link", name="Remove Subtype: Derived").click()
    expect(chips).to_have_count(2)
    expect(chips).to_contain_text(["Type: Dataset", "Experiment: CMS"])
    wider = api_total(site, q="muon dimuon", experiment="CMS", type="Dataset")
    expect(status).to_have_text(count_text(wider))

    # Sort and page size apply at once (a little JS; the Apply button does it without).
    page.get_by_label("Sort by").select_option("title")
    page.wait_for_url(re.compile(r"sort=title"))
    titles = page.locator("ol.results h2 a").all_inner_texts()
    assert titles == sorted(titles, key=str.lower)
    expect(chips).to_have_count(2)
    page.get_by_label("Per page").select_option("20")
    page.wait_for_url(re.compile(r"size=20"))
    expect(results).to_have_count(min(20, wider))
    expect(page.get_by_label("Sort by")).to_have_value("title")

    # On-demand datasets, then the JSON twin of what is shown.
    page.get_by_label("Include on-demand datasets").check()
    page.wait_for_url(re.compile(r"ondemand=true"))
    expect(page.get_by_label("Include on-demand datasets")).to_be_checked()
    expect(chips).to_have_count(2)
    twin = page.get_by_role("link", name="JSON", exact=True).get_attribute("href")
    assert twin and "ondemand=true" in twin and "size=20" in twin and "sort=title" in twin


def test_syntax_help_and_a_query_that_cannot_be_read(site: str, page: Page) -> None:
    page.goto(f"{site}/search")
    help_ = page.locator("details.syntax-help")
    expect(help_.locator("code", has_text="title:muon")).to_be_hidden()
    help_.locator("summary").click()
    expect(help_.locator("code", has_text="title:muon")).to_be_visible()
    page.get_by_label("Search records").fill("(muon")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("unbalanced parenthesis")
    expect(page.get_by_label("Search records")).to_have_value("(muon")


def test_pages_on_a_phone(site: str, phone_page: Page, shoot: Shoot) -> None:
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    phone_page.goto(f"{site}/")
    assert phone_page.evaluate(fits)
    shoot(phone_page, "home-phone")
    phone_page.goto(f"{site}/search?q=muon&experiment=CMS&type=Dataset&subtype=Derived")
    expect(phone_page.locator("ul.chips > li")).to_have_count(3)
    assert phone_page.evaluate(fits)
    shoot(phone_page, "search-phone")
    # The filters are reachable from the top of the results.
    phone_page.get_by_role("link", name="Filters", exact=True).click()
    expect(phone_page.locator('nav[aria-label="Filters"]')).to_be_in_viewport()
