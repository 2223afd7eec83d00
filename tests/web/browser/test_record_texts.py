"""Record texts in chromium: formulas drawn from server-side MathML (no script), a phone never
scrolls sideways for one, and an author list's 3,000 names open without JavaScript."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PHONE_WIDTH = 390  # conftest's phone viewport


def no_sideways_scroll(page: Page) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert inner == PHONE_WIDTH and width <= inner, (width, inner)


def test_a_formula_in_a_title_is_drawn(site: str, page: Page, phone_page: Page, shoot: Any) -> None:
    page.goto(f"{site}/record/93945")
    formula = page.locator("h1 math")
    expect(formula).to_be_visible()
    box = formula.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 10
    # Drawn as MathML: the superscript sits above the base's baseline.
    base = page.locator("h1 math msup mi").first.bounding_box()
    script = page.locator("h1 math msup mrow").first.bounding_box()
    assert base is not None and script is not None and script["y"] < base["y"]
    expect(page).to_have_title("[B± → J/ψ(→ μ⁺μ⁻)K±]CC Ntuples 4530 · OpenHEP")
    shoot(page, "record-math-title")
    phone_page.goto(f"{site}/record/93945")
    no_sideways_scroll(phone_page)


def test_display_formulas_fit_a_phone(site: str, phone_page: Page, shoot: Any) -> None:
    phone_page.goto(f"{site}/record/328")
    expect(phone_page.locator('math[display="block"]')).to_have_count(3)
    no_sideways_scroll(phone_page)
    shoot(phone_page, "record-math-phone")


def test_every_author_opens_without_javascript(site: str, browser: Browser, shoot: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        plain = context.new_page()
        plain.goto(f"{site}/record/451")
        last = plain.locator(".authors-more li").last
        expect(last).to_be_hidden()
        plain.locator(".authors-more > summary").click()
        expect(last).to_be_visible()
        expect(plain.locator(".authors li")).to_have_count(3308)
        shoot(plain, "record-author-list")
    finally:
        context.close()
