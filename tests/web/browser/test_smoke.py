"""The browser set-up itself: Debian's chromium opens a record page of the live portal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_chromium_shows_a_sample_record_page(
    site: str, page: Page, shoot: Callable[[Page, str], Path]
) -> None:
    page.goto(f"{site}/record/990001")
    assert "DoubleMuParked" in page.locator("h1").inner_text()
    assert shoot(page, "smoke-record-990001").stat().st_size > 0
