"""The event display in chromium: from the Hto4l record's page to its event display, next and
previous events, the 3D view rotated by a drag, the tracks hidden, the r-phi and rho-z views, two
muons selected and their mass read (equal to the mass computed here from the file's JSON), the
permalink opened again, and the page at 390 px — under the page policy, without a violation
or a console error. Screenshots of each step go to the ``screenshots`` dir (paths printed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from _services.events import (
    HTO4L,
    HTO4L_FILE,
    build_events_home,
    four_lepton_candidates,
    leptons_mass,
)
from _services.serve import serving

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

Shoot = Callable[[Page, str], Path]


@pytest.fixture(scope="module")
def events_site(
    codp_dir: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    base = tmp_path_factory.mktemp("events-browser")
    home = build_events_home(base, codp_dir, anchors)
    with serving(home, base / "serve.log") as url:
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


def camera(page: Page) -> dict[str, Any]:
    eye: dict[str, Any] = page.evaluate(
        "() => document.getElementById('ev-plot')._fullLayout.scene.camera.eye"
    )
    return eye


def drawn(page: Page) -> list[str]:
    return (page.locator("#ev-plot").get_attribute("data-drawn") or "").split(",")


def shot(shoot: Shoot, page: Page, name: str) -> None:
    print(f"screenshot: {shoot(page, name)}")


def test_open_rotate_hide_tracks_rphi_and_the_mass_of_two_muons(
    events_site: str, page: Page, browser: Browser, shoot: Shoot, anchors: Path
) -> None:
    problems = watch(page)
    site = events_site
    # An event with two muons and two electrons, and the muons' mass from the file's JSON.
    candidate = next(
        c for c in four_lepton_candidates(anchors / "ispy" / HTO4L_FILE)
        if [lepton.flavour for lepton in c.leptons].count("mu") == 2
    )  # fmt: skip
    listed = page.request.get(f"{site}/api/records/{HTO4L}/events?size=100").json()["events"]
    index = next(e["index"] for e in listed if (e["run"], e["event"]) == candidate.number)
    muons = [lepton for lepton in candidate.leptons if lepton.flavour == "mu"]
    expected = leptons_mass(tuple(muons))

    page.goto(f"{site}/record/{HTO4L}")
    page.get_by_role("link", name="Show events in the event display").click()
    page.wait_for_url(re.compile(rf"/visualise/events/{HTO4L}\?file=.+&event=0$"))
    plot = page.locator("#ev-plot")
    expect(plot).to_have_attribute("data-event", "0")
    expect(page.locator("#ev-status")).to_contain_text("Event 1 of 11")
    expect(plot.locator("canvas").first).to_be_visible()
    assert any(name.startswith("Tracks") for name in drawn(page)), drawn(page)
    assert any("Muon" in name for name in drawn(page)), drawn(page)
    shot(shoot, page, "events-1-first-event-3d")

    # Next, next, previous: the address follows.
    page.get_by_role("button", name="Next →").click()
    expect(plot).to_have_attribute("data-event", "1")
    page.get_by_role("button", name="Next →").click()
    expect(plot).to_have_attribute("data-event", "2")
    page.get_by_role("button", name="← Previous").click()
    expect(plot).to_have_attribute("data-event", "1")
    assert page.url.endswith("&event=1")
    # The candidate's event, from the picker.
    page.locator("#ev-pick").select_option(str(index))
    expect(plot).to_have_attribute("data-event", str(index))

    # Rotate: a drag across the 3D view turns the camera.
    before = camera(page)
    box = plot.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 160, y + 40, steps=12)
    page.mouse.up()
    expect(plot).to_have_attribute("data-rotated", "1")
    after = camera(page)
    assert any(not math.isclose(before[k], after[k], abs_tol=1e-3) for k in "xyz"), (before, after)
    shot(shoot, page, "events-2-rotated")

    # Hide the tracks.
    tracks = page.locator('#ev-collections input[data-collection^="Tracks"]')
    expect(tracks).to_have_count(1)
    tracks.uncheck()
    expect(plot).not_to_have_attribute("data-drawn", re.compile(r"(^|,)Tracks"))
    assert any("Muon" in name for name in drawn(page))
    shot(shoot, page, "events-3-no-tracks")

    # The r-φ view: the transverse plane, x and y on equal scales.
    page.get_by_role("button", name="r-φ").click()
    expect(plot).to_have_attribute("data-view", "rphi")
    expect(plot.locator(".main-svg").first).to_be_visible()
    anchor = page.evaluate("() => document.getElementById('ev-plot')._fullLayout.yaxis.scaleanchor")
    assert anchor == "x"
    shot(shoot, page, "events-4-rphi")

    # Two muons selected: their mass.
    rows = page.locator('#ev-rows tr[data-collection="GlobalMuons_V1"]')
    expect(rows).to_have_count(2)
    rows.nth(0).hover()
    expect(rows.nth(0)).to_have_class(re.compile("is-hover"))
    for n in range(2):
        rows.nth(n).get_by_role("checkbox").check()
    mass = page.locator("#ev-mass")
    expect(mass).to_have_attribute("data-mass", re.compile(r"^\d"))
    shown = float(mass.get_attribute("data-mass") or "nan")
    assert math.isclose(shown, expected, rel_tol=1e-5), (shown, expected)
    expect(mass).to_contain_text(f"M = {expected:.2f} GeV")
    shot(shoot, page, "events-5-rphi-two-muons-mass")

    page.get_by_role("button", name="\u03c1-z").click()  # rho-z
    expect(plot).to_have_attribute("data-view", "rhoz")
    shot(shoot, page, "events-6-rhoz")
    page.get_by_role("button", name="3D").click()
    expect(plot).to_have_attribute("data-view", "3d")
    shot(shoot, page, "events-7-3d-selected")

    # The permalink opens the same event elsewhere.
    link = page.locator("#ev-permalink").get_attribute("href")
    assert link is not None and link.endswith(f"&event={index}")
    context = browser.new_context()
    try:
        other = context.new_page()
        other.goto(link)
        expect(other.locator("#ev-plot")).to_have_attribute("data-event", str(index))
        expect(other.locator("#ev-status")).to_contain_text(f"event {candidate.event}")
    finally:
        context.close()
    assert problems == [], problems


def test_the_display_fits_a_phone(events_site: str, phone_page: Page, shoot: Shoot) -> None:
    problems = watch(phone_page)
    phone_page.goto(f"{events_site}/visualise/events/{HTO4L}?event=3")
    plot = phone_page.locator("#ev-plot")
    expect(plot).to_have_attribute("data-event", "3")
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    assert phone_page.evaluate(fits), "the event display scrolls sideways on a 390 px phone"
    box = plot.bounding_box()
    assert box is not None and box["width"] <= 390 and box["height"] >= 300
    shot(shoot, phone_page, "events-phone-3d")
    phone_page.get_by_role("button", name="r-φ").click()
    expect(plot).to_have_attribute("data-view", "rphi")
    assert phone_page.evaluate(fits)
    shot(shoot, phone_page, "events-phone-rphi")
    assert problems == [], problems
