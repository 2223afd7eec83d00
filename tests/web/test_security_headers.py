"""Other people's bytes never run as script on the portal's origin (``openhep.web._security``).

Every answer of stored bytes (``/eos/opendata/…``, ``/record/<recid>/files/<key>``, file
indices; GET and HEAD, whole and ranged, 304) is ``nosniff``, sandboxed by its
``Content-Security-Policy`` and named by ``Content-Disposition``, shown in place only for the
types that cannot hold script; pages carry the page policy, every answer ``nosniff``, cached
answers exactly the uncached ones' headers; JSON in pages (JSON-LD) cannot end its element.
The instance is a real CODP record with real CMS bytes, plus the hostile records and files of
``_services.hostile``; the same attacks run in Chromium in ``browser/test_hostile_content.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from _services.hostile import HOSTILE_TITLES, PARENT, SCRIPTED_FILES, hostile_home
from _services.html import html_problems
from _services.serve import run_openhep
from openhep.settings import Settings
from openhep.web import create_app
from openhep.web._disposition import INLINE_TYPES, attachment, content_type, disposition
from openhep.web._security import PAGE_POLICY, REFERRER_POLICY, STORED_BYTES_POLICY
from openhep.web.pages._render import json_in_html

HTML = {"accept": "text/html"}
SAMPLE = "uproot-Zmumu.root"
#: Keys beside SCRIPTED_FILES': a name a header must quote and encode, an image, a data file.
OTHER_KEYS = ('Zμμ_"2012";v=1,100%.txt', "plot.PNG", "events.root", "README")
#: Types that can hold script a browser runs, or that a browser hands to a plugin.
SCRIPTABLE = re.compile(r"html|xml|svg|javascript|ecmascript|pdf|css|octet-stream", re.I)
#: A file name as a header must carry it: anything but '/', '\\' and control characters (bidi
#: and other format characters are left to the key rules' own tests).
NAMES = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Cf"), blacklist_characters="/\\"),
    min_size=1,
    max_size=60,
).filter(lambda key: key not in (".", "..") and len(key.encode()) <= 240)
#: A record file's key as the upload API takes it: also no white space (a record's file URI
#: has none).
KEYS = NAMES.filter(lambda key: not re.search(r"\s", key))
EXTENSIONS = st.sampled_from([
    "", ".xml", ".XHTML", ".html", ".htm", ".svg", ".SVGZ", ".js", ".pdf", ".txt", ".json",
    ".png", ".jpeg", ".gif", ".webp", ".root", ".csv", ".ipynb", ".xsl", ".mjs", ".css",
])  # fmt: skip


#: RFC 6266's grammar as the portal uses it: a quoted-string fallback of printable ASCII
#: (without '"' or '\\') for old clients, then the exact name as RFC 8187's ext-value
#: (attr-chars and percent-encoded UTF-8), which clients prefer. Chromium's reading of it is
#: checked in browser/test_hostile_content.py.
_DISPOSITION = re.compile(
    r"^(inline|attachment); filename=\"([ !#-\[\]-~]*)\"; "
    r"filename\*=UTF-8''((?:[A-Za-z0-9!#$&+.^_`|~-]|%[0-9A-F]{2})+)$"
)


def parsed_disposition(value: str) -> tuple[str, str]:
    """(inline/attachment, the file name a client saves under) of a ``Content-Disposition``."""
    found = _DISPOSITION.match(value)
    assert found is not None, f"not RFC 6266 with an RFC 8187 name: {value!r}"
    kind, _fallback, encoded = found.groups()
    return kind, unquote(encoded, errors="strict")


def eos_address(uri: str) -> str:
    """Where a file of URI ``root://…//eos/opendata/<path>`` is served (a key may hold '#')."""
    return "/eos/opendata/" + quote(uri.split("//eos/opendata/", 1)[1])


@dataclass(frozen=True)
class Instance:
    client: TestClient
    eos: dict[str, str]  # key -> /eos/opendata/… address
    home: Path
    token: str


@pytest.fixture(scope="module")
def instance(
    tmp_path_factory: pytest.TempPathFactory, codp_dir: Path, anchors: Path
) -> Iterator[Instance]:
    root = tmp_path_factory.mktemp("security")
    home, token = hostile_home(root, codp_dir)
    sample = (anchors / "cms-samples" / SAMPLE).read_bytes()
    # A file index of the parent record, over a real sample.
    run_dir = root / "run"
    run_dir.mkdir()
    shutil.copy(anchors / "cms-samples" / SAMPLE, run_dir / SAMPLE)
    run_openhep(home, "files", "index", PARENT, "--from-dir", str(run_dir), "--name", "run")
    with TestClient(create_app(Settings(home=home))) as client:
        eos = {}
        for key, data in [*SCRIPTED_FILES.items(), *((k, sample) for k in OTHER_KEYS)]:
            added = client.put(
                f"/api/records/{PARENT}/files/{quote(key, safe='')}",
                content=data,
                headers={"authorization": f"Bearer {token}"},
            )
            assert added.status_code == 201, added.text
            eos[key] = eos_address(added.json()["file"]["uri"])
        yield Instance(client, eos, home, token)


# -- stored files ------------------------------------------------------------------------------

FILE_KEYS = [*SCRIPTED_FILES, *OTHER_KEYS]
REQUESTS = [
    ("GET", {}),
    ("HEAD", {}),
    ("GET", {"range": "bytes=0-9"}),
    ("HEAD", {"range": "bytes=-5"}),
    ("GET", {"range": "bytes=0-1,4-5"}),
]


def assert_stored_bytes_headers(headers: Any, key: str, shown_in_place: bool) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == STORED_BYTES_POLICY
    kind, name = parsed_disposition(headers["content-disposition"])
    assert (kind, name) == ("inline" if shown_in_place else "attachment", key)
    assert not headers.get("content-type", "").startswith(
        ("text/html", "image/svg", "application/xhtml")
    )


@pytest.mark.parametrize("key", FILE_KEYS)
@pytest.mark.parametrize(("method", "extra"), REQUESTS)
def test_every_stored_file_answer_is_sandboxed_unsniffed_and_named(
    instance: Instance, key: str, method: str, extra: dict[str, str]
) -> None:
    inline = content_type(key) in INLINE_TYPES
    for path, shown_in_place in (
        (instance.eos[key], inline),
        # The record's own address is a download whatever the type.
        (f"/record/{PARENT}/files/{quote(key, safe='')}", False),
    ):
        response = instance.client.request(method, path, headers=extra)
        assert response.status_code == (206 if extra else 200), (path, response.text[:200])
        assert_stored_bytes_headers(response.headers, key, shown_in_place)
        if not extra.get("range", "").count(","):
            assert response.headers["content-type"] == content_type(key)
        not_modified = instance.client.request(
            method, path, headers={"if-none-match": response.headers["etag"]}
        )
        assert not_modified.status_code == 304
        assert_stored_bytes_headers(not_modified.headers, key, shown_in_place)


def test_an_xhtml_xml_file_is_an_attachment_never_a_page(instance: Instance) -> None:
    """The attack found: XHTML with a script in an ``.xml`` file, opened at its EOS path."""
    response = instance.client.get(instance.eos["page.xml"])
    assert response.content == SCRIPTED_FILES["page.xml"]
    assert response.headers["content-type"] == "application/xml"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["content-security-policy"].split("; ")
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "listed_type"),
    [
        ("run_file_index.json", "application/json"),
        ("run_file_index.txt", "text/plain; charset=utf-8"),
        ("run_file_index", "application/json"),
    ],
)
def test_file_index_answers_are_sandboxed_data_named_by_what_they_hold(
    instance: Instance, name: str, listed_type: str
) -> None:
    response = instance.client.get(f"/record/{PARENT}/file_index/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == listed_type
    shown = name if "." in name else f"{name}.json"
    assert_stored_bytes_headers(response.headers, shown, True)


@settings(max_examples=300, deadline=None)
@given(stem=NAMES, extension=EXTENSIONS)
def test_no_key_is_shown_in_place_unless_its_type_cannot_hold_script(
    stem: str, extension: str
) -> None:
    key = stem + extension
    served_as = content_type(key)
    value = disposition(key)
    kind, name = parsed_disposition(value)
    assert name == key  # the exact key, however odd
    assert kind == ("inline" if served_as in INLINE_TYPES else "attachment")
    if SCRIPTABLE.search(served_as):
        assert kind == "attachment"
    value.encode("ascii")  # a header value any server and client can carry
    assert parsed_disposition(attachment(key)) == ("attachment", key)


def test_the_inline_list_holds_only_text_json_and_raster_images() -> None:
    for media_type in INLINE_TYPES:
        assert not SCRIPTABLE.search(media_type), media_type
        assert media_type.startswith(("text/plain", "text/csv", "text/markdown", "text/x-")) or (
            media_type in {"application/json", "image/png", "image/jpeg", "image/gif", "image/webp"}
        )
        if media_type.startswith("text/"):
            assert media_type.endswith("; charset=utf-8")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stem=KEYS, extension=EXTENSIONS)
def test_any_uploaded_key_is_served_under_its_own_name(
    instance: Instance, stem: str, extension: str
) -> None:
    key = stem + extension
    added = instance.client.put(
        f"/api/records/990201/files/{quote(key, safe='')}",
        content=b"bytes",
        headers={"authorization": f"Bearer {instance.token}"},
    )
    assert added.status_code == 201, added.text
    path = eos_address(added.json()["file"]["uri"])
    addresses = [
        (path, content_type(key) in INLINE_TYPES),
        (f"/record/990201/files/{quote(key, safe='')}", False),
    ]
    for address, in_place in addresses:
        response = instance.client.get(address)
        assert response.status_code == 200
        assert_stored_bytes_headers(response.headers, key, in_place)


# -- pages and other answers -----------------------------------------------------------------

PAGES = ["/", "/search?q=muon", f"/record/{PARENT}", "/record/990201", "/docs", "/glossary"]
PAGES += ["/news", "/no-such-page", "/search?q=title:(", "/record/99999999"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_the_page_policy(instance: Instance, path: str) -> None:
    response = instance.client.get(path, headers=HTML)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == PAGE_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == REFERRER_POLICY
    # Script only from the portal's files: an element with a src, or JSON-LD (data).
    for tag in re.findall(r"<script\b[^>]*>", response.text):
        assert ' src="http://testserver/static/js/' in tag or 'type="application/ld+json"' in tag


@pytest.mark.parametrize(
    "path",
    [
        *(f"/api/records/{PARENT}", "/api/records/?q=muon", "/api/records/x", "/sitemap.xml"),
        *("/api/openapi.json", "/api/news.xml", "/static/js/record.js", "/static/css/base.css"),
    ],
)
def test_every_other_answer_is_unsniffed_and_sandboxed(instance: Instance, path: str) -> None:
    response = instance.client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == STORED_BYTES_POLICY


def test_an_unexpected_error_page_has_the_page_policy(tmp_path: Path, codp_dir: Path) -> None:
    home, _ = hostile_home(tmp_path, codp_dir)
    app = create_app(Settings(home=home))

    def fail() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", fail)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers=HTML)
    assert response.status_code == 500
    assert response.headers["content-security-policy"] == PAGE_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_api_reference_runs_only_its_own_script(instance: Instance) -> None:
    response = instance.client.get("/api/docs")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    (inline,) = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    script_src = next(p for p in policy.split("; ") if p.startswith("script-src "))
    assert script_src == f"script-src 'self' https://cdn.jsdelivr.net 'sha256-{digest}'"
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == REFERRER_POLICY


@pytest.mark.parametrize(
    "path",
    ["/", f"/record/{PARENT}", "/search?q=muon", f"/api/records/{PARENT}", "/docs", "/x404"],
)
def test_a_cached_answer_has_exactly_the_headers_of_the_computed_one(
    instance: Instance, path: str
) -> None:
    with TestClient(create_app(Settings(home=instance.home, answer_cache_bytes=0))) as plain:
        computed = plain.get(path, headers=HTML)
    served = [instance.client.get(path, headers=HTML) for _ in range(2)]
    expected = [(k, v) for k, v in computed.headers.multi_items() if k != "x-cache"]
    for answer in served:
        assert answer.content == computed.content
        assert [(k, v) for k, v in answer.headers.multi_items() if k != "x-cache"] == expected
    if computed.status_code == 200:
        assert served[1].headers["x-cache"] == "hit"


def test_no_template_holds_inline_script_style_or_handlers() -> None:
    templates = Path(create_app.__code__.co_filename).parent / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            # A script by address, or a data island (JSON through Jinja's tojson, which escapes
            # <, > and &): a browser runs neither type as script.
            data = 'type="application/ld+json"' in tag or 'type="application/json"' in tag
            assert "src=" in tag or data, (template.name, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert not re.search(r"\sstyle\s*=|<style\b", text), template.name
        assert "javascript:" not in text.lower(), template.name


# -- JSON in pages -----------------------------------------------------------------------------

UNSAFE_IN_HTML = re.compile("[<>&\u2028\u2029]")


@pytest.mark.parametrize(("recid", "title"), HOSTILE_TITLES.items())
def test_a_hostile_title_keeps_its_page_and_its_json_ld(
    instance: Instance, recid: str, title: str
) -> None:
    text = instance.client.get(f"/record/{recid}", headers=HTML).text
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', text, re.DOTALL)
    assert len(blocks) == 1
    (block,) = blocks
    # Nothing in it that HTML's tokenizer reads: "<!--" or "</script" could not start there.
    assert UNSAFE_IN_HTML.search(block) is None, block[:300]
    assert json.loads(block)["name"] == title
    # What follows the element is the page: its heading, the title as text, its main part.
    rest = text.split(block, 1)[1]
    assert rest.startswith("</script>")
    assert '<main id="main">' in rest and '<h1 id="record-title">' in rest
    assert escape(title.split("\u2028")[0]) in rest
    assert html_problems(text) == []


@settings(max_examples=300, deadline=None)
@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
)
def test_json_in_html_reads_back_the_same_and_holds_nothing_html_reads(data: Any) -> None:
    text = str(json_in_html(data))
    assert UNSAFE_IN_HTML.search(text) is None
    assert json.loads(text) == data
