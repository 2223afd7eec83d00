"""Browser tests: Playwright for Python driving Debian's ``chromium`` (installed by
``make test`` through scripts/system-deps.sh; Playwright's own browser downloads are never used).

* ``browser``: one headless chromium per xdist worker.
* ``page`` / ``phone_page``: a fresh page at desktop (1280x900) or phone (390x844, touch) size.
* ``screenshots``: the directory (under the run's tmp dir) where tests save screenshots of what
  they looked at; ``shoot(page, name)`` saves one there and returns its path.
* ``site``: the base URL of a live ``openhep serve`` over ``site_home`` (``tests/web/conftest.py``):
  the real CODP records, the demo's sample records with real bytes (so pages have files to list
  and download) and CODP's docs pages.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from _services.serve import serving

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_executable() -> str:
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail(
        "Debian's chromium is not installed: run `make test` as root (it installs it), or "
        "`apt-get install chromium`"
    )


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    launched = playwright.chromium.launch(executable_path=chromium_executable(), args=args)
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def shoot(screenshots: Path) -> Callable[[Page, str], Path]:
    def save(page: Page, name: str) -> Path:
        path = screenshots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


@pytest.fixture(scope="session")
def site(site_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(site_home, tmp_path_factory.mktemp("site-log") / "serve.log") as url:
        yield url
