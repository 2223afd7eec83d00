"""Other people's bytes never run as script on the portal's origin, in chromium.

An attacker with an upload token adds XHTML-with-script as ``.xml``, HTML, SVG and text to a
real CODP record through the upload API of a live ``openhep serve``, and records whose titles
try to break out of the page's JSON-LD; chromium opens every file address, from the portal's
own page, and every page, and no dialog may open. The portal's pages themselves run under
their Content-Security-Policy with no violation, and their scripts (copy citation, search
form) still work.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Download, Page, expect
from playwright.sync_api import Error as PlaywrightError

from _services.hostile import HOSTILE_TITLES, PARENT, SCRIPTED_FILES, hostile_home
from _services.serve import serving

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

#: Pages of the demo site (real records, docs) that must run under their policy untouched.
PAGES = (
    "/",
    "/search?q=muon&experiment=CMS",
    "/record/990001",  # a sample record with a file held here
    "/record/93945",  # a formula in the title (MathML)
    "/record/451",  # 3,308 authors folded in <details>
    "/docs",
    "/docs/getting-started",
    "/docs/cms-getting-started-miniaod",  # a CODP guide with images
    "/glossary",
    "/news",
    "/no/such/page",
)


@pytest.fixture(scope="module")
def hostile_site(
    tmp_path_factory: pytest.TempPathFactory, codp_dir: Path
) -> Iterator[tuple[str, str]]:
    root = tmp_path_factory.mktemp("hostile-site")
    home, token = hostile_home(root, codp_dir)
    with serving(home, root / "serve.log") as url:
        yield url, token


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(accept_downloads=True)
    yield opened
    opened.close()


def watch_dialogs(page: Page) -> list[str]:
    """The messages of every dialog the page (or a frame in it) opens; each is dismissed."""
    seen: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return seen


def upload(site: str, token: str, key: str, data: bytes) -> str:
    """Add ``data`` as file ``key`` of the parent record; its ``/eos/opendata/`` address."""
    response = httpx.put(
        f"{site}/api/records/{PARENT}/files/{quote(key, safe='')}",
        content=data,
        headers={"authorization": f"Bearer {token}"},
        trust_env=False,
        timeout=30.0,
    )
    assert response.status_code == 201, response.text
    uri: str = response.json()["file"]["uri"]
    return f"{site}/eos/opendata/{quote(uri.split('//eos/opendata/', 1)[1])}"


def open_as_document(page: Page, url: str) -> tuple[str, str | None]:
    """Navigate to ``url``: ("page", None) if chromium shows it, ("download", its suggested
    name) if chromium saves it."""
    downloads: list[Download] = []

    def saved(download: Download) -> None:
        downloads.append(download)

    page.on("download", saved)
    try:
        page.goto(url)
    except PlaywrightError as exc:
        # A download ends the navigation ("Download is starting"); its event may come after.
        assert "Download is starting" in str(exc), exc
        if not downloads:
            page.wait_for_event("download")
    finally:
        page.remove_listener("download", saved)
    if downloads:
        return "download", downloads[0].suggested_filename
    return "page", None


def frame_in_portal_page(page: Page, url: str, *, download: bool) -> None:
    """Load ``url`` in an iframe of the portal's page, and wait until it has loaded or (an
    attachment: a framed download never loads) until chromium saves it."""
    if download:
        with page.expect_download():
            page.evaluate(
                """url => {
                    const frame = document.createElement("iframe");
                    frame.src = url;
                    document.body.append(frame);
                }""",
                url,
            )
        return
    page.evaluate(
        """url => new Promise(done => {
            const frame = document.createElement("iframe");
            frame.addEventListener("load", () => done(), {once: true});
            frame.src = url;
            document.body.append(frame);
        })""",
        url,
    )


def test_uploaded_files_never_run_script_on_the_portal(
    hostile_site: tuple[str, str], context: BrowserContext
) -> None:
    site, token = hostile_site
    page = context.new_page()
    dialogs = watch_dialogs(page)
    page.goto(f"{site}/")
    # A real PNG (chromium's picture of the portal) and the XHTML file under an image's name.
    files = {
        **SCRIPTED_FILES,
        "home.png": page.screenshot(),
        "disguised.png": SCRIPTED_FILES["page.xml"],
    }
    addresses = {key: upload(site, token, key, data) for key, data in files.items()}
    record_page = f"{site}/record/{PARENT}"
    for key, url in addresses.items():
        how, name = open_as_document(page, url)
        assert dialogs == [], (key, dialogs)
        headers = httpx.head(url, trust_env=False).headers
        assert headers["x-content-type-options"] == "nosniff", key
        policy = [p.strip() for p in headers["content-security-policy"].split(";")]
        assert "sandbox" in policy and "default-src 'none'" in policy, key
        assert not headers["content-type"].startswith(
            ("text/html", "image/svg", "application/xhtml")
        )

        shown = key.endswith((".txt", ".png"))
        assert how == ("page" if shown else "download"), (key, headers["content-type"])
        assert headers["content-disposition"].startswith("inline;" if shown else "attachment;")
        if how == "download":
            assert name == key  # chromium reads the name the portal gave it
        for address, download in ((url, not shown), (f"{record_page}/files/{quote(key)}", True)):
            # Framed in a page of the portal: the file never becomes part of it.
            page.goto(f"{site}/")
            frame_in_portal_page(page, address, download=download)
            assert dialogs == [], (key, address, dialogs)
    # What chromium shows in place, it shows as data: the text as text, the image as an image.
    page.goto(addresses["notes.txt"])
    assert page.locator("body").inner_text().strip() == SCRIPTED_FILES["notes.txt"].decode().strip()
    page.goto(addresses["home.png"])
    image = page.locator("img")
    expect(image).to_have_count(1)
    assert image.evaluate("i => i.naturalWidth") > 0
    assert dialogs == []


@pytest.mark.parametrize(("recid", "title"), HOSTILE_TITLES.items())
def test_a_hostile_title_is_shown_as_text_and_its_json_ld_parses(
    hostile_site: tuple[str, str], page: Page, recid: str, title: str
) -> None:
    site, _ = hostile_site
    dialogs = watch_dialogs(page)
    page.goto(f"{site}/record/{recid}")
    expect(page.locator("main#main")).to_have_count(1)
    heading = page.locator("h1#record-title")
    expect(heading).to_have_count(1)
    assert heading.text_content() == title
    expect(page.locator("footer.site-footer")).to_be_visible()
    blocks = page.locator('script[type="application/ld+json"]').all_text_contents()
    assert len(blocks) == 1
    assert json.loads(blocks[0])["name"] == title
    assert dialogs == []


def test_pages_run_under_their_policy_without_a_violation(site: str, page: Page) -> None:
    violations: list[str] = []
    errors: list[str] = []
    missing = f"{site}/no/such/page"  # its own 404 is the one error expected
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and m.location.get("url") != missing
            else None
        ),
    )
    page.add_init_script(
        """document.addEventListener("securitypolicyviolation", e => {
            console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
        });"""
    )
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    for path in PAGES:
        response = page.goto(f"{site}{path}")
        assert response is not None
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert response.headers.get("x-content-type-options") == "nosniff", path
        assert response.headers.get("referrer-policy"), path
        expect(page.locator("h1").first).to_be_visible()
    # The page's own scripts run: the copy button appears, the search form submits itself.
    page.goto(f"{site}/record/990001")
    expect(page.get_by_role("button", name="Copy citation")).to_be_visible()
    page.goto(f"{site}/search?q=muon")
    expect(page.locator("form.search-form.js-autosubmit")).to_have_count(1)
    assert violations == [] and errors == [], (violations, errors)
