"""The histogram page in chromium: from the Z→μμ CSV record's page to its histogram page, the
dimuon mass plotted (peak at the Z), bins changed, a log scale, the PNG downloaded, an error
shown at its place in the expression, and the page's address opened again (shareable) — under
the page policy, without a violation. Screenshots of each step go to the ``screenshots`` dir.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from _services.analysis import ZMUMU_CSV, build_analysis_home
from _services.serve import serving

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

Shoot = Callable[[Page, str], Path]
Z_MASS = 91.1876


@pytest.fixture(scope="module")
def analysis_site(
    codp_dir: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    base = tmp_path_factory.mktemp("hist-browser")
    home = build_analysis_home(base, codp_dir, anchors)
    with serving(home, base / "serve.log", env={"OPENHEP_ANALYSIS_WORKERS": "1"}) as url:
        yield url


def watch(page: Page) -> list[str]:
    """Console errors and policy violations of ``page``, collected as it runs."""
    problems: list[str] = []
    page.add_init_script(
        """document.addEventListener("securitypolicyviolation", e => {
            console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
        });"""
    )
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def bars_drawn(page: Page) -> int:
    """How many bars of the plot are on screen (a plot whose nodes were lost draws none)."""
    count: int = page.evaluate(
        """() => Array.from(document.querySelectorAll("#h-plot .bars .point path"))
            .filter(p => p.getBoundingClientRect().height > 0).length"""
    )
    return count


def plotted(page: Page) -> dict[str, Any]:
    """What plotly drew: the bar trace's x and y, and the y axis type."""
    data: dict[str, Any] = page.evaluate(
        """() => { const gd = document.getElementById("h-plot");
            return {x: gd.data[0].x, y: gd.data[0].y, scale: gd.layout.yaxis.type}; }"""
    )
    return data


def test_plot_the_dimuon_mass_change_bins_log_scale_and_download(
    analysis_site: str,
    page: Page,
    browser: Browser,
    shoot: Shoot,
    screenshots: Path,
    tmp_path: Path,
) -> None:
    problems = watch(page)
    site = analysis_site
    page.goto(f"{site}/record/{ZMUMU_CSV}")
    page.get_by_role("link", name="Plot histograms of these files").click()
    page.wait_for_url(re.compile(rf"/visualise/histograms/{ZMUMU_CSV}$"))
    expect(page.locator("h1")).to_contain_text("Z to two muons")

    # The dimuon mass, from the record's variables, over 60-120 GeV in 60 bins.
    page.get_by_label("Bins", exact=True).fill("60")
    page.get_by_label("From", exact=True).fill("60")
    page.get_by_label("To", exact=True).fill("120")
    page.get_by_label("Variable", exact=True).select_option("M")
    plot = page.locator("#h-plot")
    expect(plot).to_have_attribute("data-bins", "60")
    expect(plot.locator(".main-svg").first).to_be_visible()
    drawn = plotted(page)
    peak = drawn["x"][drawn["y"].index(max(drawn["y"]))]
    assert abs(peak - Z_MASS) <= 2, peak
    assert drawn["scale"] == "linear"
    assert 40 <= bars_drawn(page) <= 60
    expect(page.locator("#h-status")).to_contain_text("entries from 2,304 events")
    assert re.search(r"\?expression=M&bins=60&lo=60&hi=120$", page.url), page.url
    shoot(page, "histogram-1-mass-60-bins")

    # Fewer bins.
    page.get_by_label("Bins", exact=True).fill("20")
    page.get_by_role("button", name="Plot", exact=True).click()
    expect(plot).to_have_attribute("data-bins", "20")
    assert len(plotted(page)["y"]) == 20
    assert 15 <= bars_drawn(page) <= 20  # a bin with no events has no bar
    assert "bins=20" in page.url
    shoot(page, "histogram-2-mass-20-bins")

    # A log scale: the same histogram, redrawn.
    page.get_by_label("Log scale", exact=True).check()
    expect(plot).to_have_attribute("data-scale", "log")
    assert plotted(page)["scale"] == "log"
    assert 15 <= bars_drawn(page) <= 20
    assert page.url.endswith("&log=1")
    shoot(page, "histogram-3-log")

    # The PNG (matplotlib, CMS style) as a download.
    with page.expect_download() as download:
        page.get_by_role("link", name="PNG", exact=True).click()
    saved = tmp_path / "histogram.png"
    download.value.save_as(saved)
    assert download.value.suggested_filename == f"histogram-{ZMUMU_CSV}.png"
    assert saved.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # Kept beside the screenshots, to be looked at with them.
    (screenshots / "histogram-4-download.png").write_bytes(saved.read_bytes())

    # A mistyped name: the error sits under the expression, with a caret at its place.
    page.get_by_label("Expression", exact=True).fill("sqrt(px1**2 + pyy1**2)")
    page.get_by_role("button", name="Plot", exact=True).click()
    error = page.locator("#h-expression-error")
    expect(error).to_be_visible()
    expect(error.locator("pre")).to_have_text(
        "sqrt(px1**2 + pyy1**2)\n" + " " * len("sqrt(px1**2 + ") + "^"
    )
    expect(error).to_contain_text("py1")
    expect(page.get_by_label("Expression", exact=True)).to_have_attribute("aria-invalid", "true")
    shoot(page, "histogram-5-error")

    # The address is the request: opened elsewhere, it draws the same histogram.
    shared = f"{site}/visualise/histograms/{ZMUMU_CSV}?expression=M&bins=20&lo=60&hi=120&log=1"
    context = browser.new_context()
    try:
        other = context.new_page()
        other.goto(shared)
        expect(other.locator("#h-plot")).to_have_attribute("data-bins", "20")
        assert plotted(other)["scale"] == "log"
        expect(other.get_by_label("Log scale", exact=True)).to_be_checked()
    finally:
        context.close()
    # The one console error expected: the 400 of the mistyped expression.
    assert [p for p in problems if "status of 400" not in p] == [], problems
    assert len(problems) <= 1, problems


def test_without_javascript_the_page_shows_the_png(analysis_site: str, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        plain = context.new_page()
        plain.goto(
            f"{analysis_site}/visualise/histograms/{ZMUMU_CSV}?expression=M&bins=30&lo=60&hi=120"
        )
        image = plain.locator("#h-plot img")
        expect(image).to_be_visible()
        width = plain.evaluate("() => document.querySelector('#h-plot img').naturalWidth")
        assert width == 1000
    finally:
        context.close()
