"""Docs, glossary, news and error pages in chromium, at desktop and phone widths."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

Shoot = Callable[[Page, str], Path]
READING_PAGES = (
    "/docs",
    "/docs/getting-started",
    "/docs/search-syntax",
    "/docs/downloading-and-verifying",
    "/docs/about",
    "/glossary",
    "/news",
    "/news/pages",
    "/no/such/page",
)


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_docs_index_leads_to_a_page_and_its_contents(site: str, page: Page, shoot: Shoot) -> None:
    page.goto(f"{site}/docs")
    assert page.locator("h1").inner_text() == "Documentation"
    shoot(page, "docs-index-desktop")
    page.get_by_role("link", name="Getting started").first.click()
    page.wait_for_url(f"{site}/docs/getting-started")
    assert page.locator("h1").inner_text() == "Getting started"
    toc = page.get_by_role("navigation", name="On this page")
    toc.get_by_role("link", name="4. Verify what you got").click()
    page.wait_for_url("**#verify-what-you-got")
    assert page.locator("#verify-what-you-got").is_visible()
    # The documentation's own navigation marks where the reader is.
    current = page.locator('.docs-nav a[aria-current="page"]')
    assert current.inner_text() == "Getting started"
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "docs-getting-started-desktop")


def test_glossary_anchors_take_the_reader_to_the_term(site: str, page: Page, shoot: Shoot) -> None:
    page.goto(f"{site}/glossary")
    terms = page.get_by_role("navigation", name="Terms")
    terms.get_by_role("link", name="NanoAOD", exact=True).click()
    page.wait_for_url("**/glossary#nanoaod")
    heading = page.locator("h2#nanoaod")
    box = heading.bounding_box()
    assert box is not None and 0 <= box["y"] < 900, box
    # A definition links to the terms it uses.
    page.locator("h2#nanoaod + p").get_by_role("link", name="MiniAOD").click()
    page.wait_for_url("**/glossary#miniaod")
    shoot(page, "glossary-at-miniaod-desktop")
    page.goto(f"{site}/glossary")
    shoot(page, "glossary-desktop")


def test_news_links_to_its_rss_feed(site: str, page: Page, shoot: Shoot) -> None:
    page.goto(f"{site}/news")
    assert page.locator("h1").inner_text() == "News"
    items = page.locator(".news-list article")
    assert items.count() >= 4
    shoot(page, "news-desktop")
    feed = page.get_by_role("link", name="RSS feed")
    href = feed.get_attribute("href")
    assert href == f"{site}/api/news.xml"
    # Feed readers find it from any page's <head> as well.
    alternate = page.locator('link[rel="alternate"][type="application/rss+xml"]')
    assert alternate.get_attribute("href") == href
    answer = page.request.get(href)
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/rss+xml")
    channel = ET.fromstring(answer.body()).find("channel")
    assert channel is not None and len(channel.findall("item")) == items.count()
    first = items.first.get_by_role("link").first
    title = first.inner_text()
    first.click()
    assert page.locator("h1").inner_text() == title


def test_a_404_page_explains_and_its_search_box_works(site: str, page: Page, shoot: Shoot) -> None:
    response = page.goto(f"{site}/record/999999999")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    assert "record 999999999 does not exist" in page.locator(".error-message").inner_text()
    shoot(page, "error-404-record-desktop")
    page.get_by_label("Search the records instead").fill("DoubleMuParked")
    with page.expect_navigation() as navigation:
        page.get_by_label("Search the records instead").press("Enter")
    assert navigation.value is not None and navigation.value.status == 200
    assert page.url.startswith(f"{site}/search?q=DoubleMuParked")
    page.go_back()
    page.get_by_role("link", name="Home page").click()
    page.wait_for_url(f"{site}/")


@pytest.mark.parametrize("path", READING_PAGES)
def test_pages_fit_a_phone_without_sideways_scrolling(
    site: str, phone_page: Page, shoot: Shoot, path: str
) -> None:
    phone_page.goto(f"{site}{path}")
    assert phone_page.locator("h1").is_visible()
    name = "phone" + path.replace("/", "-")
    shoot(phone_page, name)
    assert no_horizontal_scroll(phone_page), f"{path} scrolls sideways on a 390 px phone"


def test_reading_pages_answer_200_in_the_browser(site: str, page: Page) -> None:
    for path in READING_PAGES[:-1]:
        response = page.goto(f"{site}{path}")
        assert response is not None and response.status == 200, path
