"""The record page ``/record/<recid>``: every real CODP record renders as valid HTML; what a page
shows agrees with the record's JSON (title, DOI, "Cite as", badges, related records, files 5 a
page, availability, file indices, versions); record texts are sanitised (fuzzed with hypothesis).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import event

from _services.html import html_problems, start_tags
from _services.serve import openhep_env, run_openhep
from openhep.settings import Settings
from openhep.web import create_app
from openhep.web.pages._math import math_html
from openhep.web.pages._sanitize import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    SiteLinks,
    safe_url,
    sanitize_html,
)
from openhep.web.pages.records import FILES_PER_PAGE, cite_as

SHARDS = 8
HTML = {"accept": "text/html"}
SAMPLE_FILE = "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"


def page(client: TestClient, path: str) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, (path, response.text[:500])
    return response.text


@pytest.fixture(scope="module")
def records_by_recid(codp_records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(r["recid"]): r for r in codp_records}


# -- every real record --------------------------------------------------------------------------


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_real_record_page_renders_as_valid_html(
    client: TestClient, codp_records: list[dict[str, Any]], shard: int
) -> None:
    recids = sorted(str(r["recid"]) for r in codp_records)
    assert len(recids) == 7535
    titles = {str(r["recid"]): r["title"] for r in codp_records}
    failures = []
    for recid in recids[shard::SHARDS]:
        response = client.get(f"/record/{recid}", headers=HTML)
        if response.status_code != 200:
            failures.append(f"{recid}: status {response.status_code}")
            continue
        problems = html_problems(response.text)
        if problems:
            failures.append(f"{recid}: {problems[:3]}")
        if f'<h1 id="record-title">{math_html(titles[recid])}</h1>' not in response.text:
            failures.append(f"{recid}: title not in <h1>")
    assert failures == []


# -- content against the JSON ---------------------------------------------------------------------


def test_title_doi_cite_and_badges_of_a_derived_dataset(
    client: TestClient, records_by_recid: dict[str, dict[str, Any]]
) -> None:
    record = records_by_recid["12341"]
    text = page(client, "/record/12341")
    assert f"<title>{escape(record['title'])} · OpenHEP</title>" in text
    assert f'href="https://doi.org/{record["doi"]}"' in text
    cite = (
        "Wunsch, Stefan (2019). DoubleMuParked dataset from 2012 in NanoAOD format reduced on "
        "muons. CERN Open Data Portal. DOI:10.7483/OPENDATA.CMS.LVG5.QT81"
    )
    assert cite_as(record, "x") == cite
    assert f'<p class="cite__text" id="cite-text">{cite}</p>' in text
    # The copy button is hidden until the script finds a clipboard: without JS the text is all.
    assert 'data-copy="cite-text" hidden' in text
    badges = dict(re.findall(r'<a class="badge badge--\w+" href="([^"]+)">([^<]+)</a>', text))
    by_label = {label: urlsplit(unescape(href)) for href, label in badges.items()}
    assert parse_qs(by_label["CMS"].query) == {"experiment": ["CMS"]}
    assert parse_qs(by_label["Derived"].query) == {"type": ["Dataset"], "subtype": ["Derived"]}
    assert parse_qs(by_label["2012"].query) == {"year": ["2012"]}
    assert all(u.path == "/search" for u in by_label.values())
    # Dataset characteristics in human units.
    assert "61,540,413" in text and "2.2 GB" in text
    # Dataset semantics: one row per variable.
    for variable in record["dataset_semantics"]:
        assert f"<td><code>{variable['variable']}</code></td>" in text
    assert "CC0-1.0" in text and 'rel="license"' in text


def test_related_records_are_resolved_to_titles(
    client: TestClient, records_by_recid: dict[str, dict[str, Any]]
) -> None:
    text = page(client, "/record/12341")
    for recid in ("6004", "6030", "12342", "12340"):
        title = escape(records_by_recid[recid]["title"])
        assert f'<a href="http://testserver/record/{recid}">{title}</a>' in text, recid


def test_collision_dataset_badges_characteristics_system_details(
    client: TestClient, records_by_recid: dict[str, dict[str, Any]]
) -> None:
    record = records_by_recid["6004"]
    text = page(client, "/record/6004")
    assert 'href="http://testserver/search?collision_energy=8TeV"' in text
    assert 'href="http://testserver/search?collision_type=pp"' in text
    assert "CMS collaboration (2017). /DoubleMuParked/Run2012B-22Jan2013-v1/AOD. " in text
    assert "29,308,627" in text and "8.7 TB" in text and "2,279" in text
    assert "How were these data selected?" in text
    # The methodology's relative links point into this portal; its HTML is kept (sanitised).
    assert '<a href="http://testserver/record/1701">HLT configuration</a>' in text
    # Run numbers are behind a <details>, readable without JS.
    assert f"{len(record['run_numbers'])} run numbers</summary>" in text


def test_file_indices_known_only_by_name_show_their_remote_uris(
    client: TestClient, records_by_recid: dict[str, dict[str, Any]]
) -> None:
    record = records_by_recid["6004"]
    text = page(client, "/record/6004")
    assert "7 file indices listing the data files — showing 1\N{EN DASH}5 of 7." in text
    first = record["files"][0]
    assert f"<code>{first['uri']}</code>" in text
    # Remote files are never links (their URI is shown as text).
    assert 'href="root://' not in text and "/files/CMS_Run2012B" not in text
    assert text.count('class="file index"') == FILES_PER_PAGE


@pytest.mark.parametrize("files_page", [1, 2, 3, 4, 5])
def test_files_are_listed_five_a_page(
    client: TestClient, records_by_recid: dict[str, dict[str, Any]], files_page: int
) -> None:
    files = records_by_recid["301"]["files"]
    assert len(files) == 22
    text = page(client, f"/record/301?files_page={files_page}")
    # CODP's files, not held here: each links to its origin, CODP's HTTPS gateway.
    shown = re.findall(
        r'<div class="file__name">\s*<a href="https://opendata\.cern\.ch/eos/opendata/[^"]+" '
        r'rel="external noopener">([^<]+)</a>',
        text,
    )
    start = (files_page - 1) * FILES_PER_PAGE
    assert shown == [f["uri"].rsplit("/", 1)[1] for f in files[start : start + FILES_PER_PAGE]]
    assert f'<span class="pager__current" aria-current="page">{files_page}</span>' in text
    assert "22 files, 921.1 MB in all" in text
    if files_page < 5:
        assert f'href="http://testserver/record/301?files_page={files_page + 1}#files"' in text
        assert 'rel="next"' in text
    else:
        assert 'rel="next"' not in text
    assert ('rel="prev"' in text) == (files_page > 1)


@pytest.mark.parametrize(("asked", "shown"), [("99", 5), ("0", 1), ("x", 1), ("", 1)])
def test_a_files_page_out_of_range_shows_the_nearest(
    client: TestClient, asked: str, shown: int
) -> None:
    text = page(client, f"/record/301?files_page={asked}")
    assert f'<span class="pager__current" aria-current="page">{shown}</span>' in text


def test_json_ld_and_json_alternate_are_embedded(client: TestClient) -> None:
    text = page(client, "/record/12341")
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', text, re.S)
    assert found is not None
    ld = json.loads(found.group(1))
    assert (
        ld["@type"] == "Dataset"
        and ld["sameAs"] == "https://doi.org/10.7483/OPENDATA.CMS.LVG5.QT81"
    )
    assert (
        'rel="alternate" type="application/json" href="http://testserver/api/records/12341"' in text
    )


@pytest.mark.parametrize("path", ["/record/99999999", "/record/0", "/record/12341?version=9"])
def test_unknown_records_and_versions_are_404(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


# -- an instance of our own: sample files, an index, a corrupt file, a hostile record -------------

HOSTILE = {
    "recid": "990100",
    "title": "Hostile <script>alert('title')</script> record",
    "type": {"primary": "Dataset", "secondary": ["Derived"]},
    "experiment": ["CMS"],
    "date_published": "2020",
    "publisher": "Test",
    "abstract": {
        "description": (
            "<p>Intro<script>alert(1)</script></p><img src=x onerror=alert(2)>"
            '<a href="javascript:alert(3)">j</a><a href=" JaVaScRiPt:alert(4)">k</a>'
            '<a href="java&#x09;script:alert(5)">l</a><style>body{display:none}</style>'
            '<h1 id="record-title">Second title</h1><p onclick="alert(6)" style="x">text</p>'
            '<iframe src="https://example.org"></iframe><a href="data:text/html,x">d</a>'
        ),
        "links": [{"url": "javascript:alert(7)", "title": "bad link"}],
    },
    "relations": [{"type": "isChildOf", "recid": "99999998", "title": "Gone record"}],
    "links": [{"url": "vbscript:msgbox(8)", "title": "vb"}],
}


@pytest.fixture(scope="module")
def own_home(anchors: Path, codp_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("record-pages")
    records = base / "records"
    records.mkdir()
    for name in ("cms-derived-nanoaod-outreach-DoubleMuParked.json",):
        shutil.copy(codp_dir / name, records / name)
    (records / "hostile.json").write_text(json.dumps([HOSTILE]))
    home = base / "home"
    run_openhep(home, "demo", "--records", str(records), "--samples", str(anchors), "--json")
    # A file index over a copy of the sample's own file: record 990001 gets a version 2.
    run_dir = base / "run"
    run_dir.mkdir()
    shutil.copy(anchors / "cms-samples" / SAMPLE_FILE, run_dir / SAMPLE_FILE)
    run_openhep(home, "files", "index", "990001", "--from-dir", str(run_dir), "--name", "run")
    # Record 990002's bytes go bad: fixity marks the file corrupt (and exits 1 saying so).
    (stored,) = (home / "files").rglob("nanoAOD_2015_CMS_Open_Data_ttbar.root")
    data = bytearray(stored.read_bytes())
    data[100] ^= 0xFF
    stored.write_bytes(bytes(data))
    checked = subprocess.run(
        [sys.executable, "-m", "openhep", "fixity", "--json"],
        env=openhep_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 1, checked.stderr
    return home


@pytest.fixture(scope="module")
def own(own_home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=own_home))) as test_client:
        yield test_client


def test_an_online_sample_file_has_a_download_link(own: TestClient, anchors: Path) -> None:
    text = page(own, "/record/990001")
    assert html_problems(text) == []
    link = f'href="http://testserver/record/990001/files/{SAMPLE_FILE}"'
    assert link in text
    assert '<span class="availability availability--online">online</span>' in text
    download = own.get(f"/record/990001/files/{SAMPLE_FILE}")
    assert download.status_code == 200
    assert download.content == (anchors / "cms-samples" / SAMPLE_FILE).read_bytes()


def test_a_codp_file_links_to_its_origin_as_another_site(own: TestClient) -> None:
    text = page(own, "/record/12341")
    path = "cms/derived-data/AOD2NanoAODOutreachTool/Run2012BC_DoubleMuParked_Muons.root"
    uri = f"root://eospublic.cern.ch//eos/opendata/{path}"
    origin = f"https://opendata.cern.ch/eos/opendata/{path}"
    assert f"Not held here; its origin, opendata.cern.ch, serves it: <code>{uri}</code>" in text
    assert '<span class="availability availability--remote">remote</span>' in text
    assert f'<a href="{origin}" rel="external noopener">' in text
    assert "Download from opendata.cern.ch" in text
    # Never a link to a download here that could only fail.
    assert "/record/12341/files/" not in text and 'href="http://testserver/eos/' not in text


def test_a_corrupt_file_with_no_origin_is_marked_and_not_linked(own: TestClient) -> None:
    # Files added here (as the demo's samples are) have no origin but this instance.
    text = page(own, "/record/990002")
    assert "corrupt here: failed its fixity check, not served from here" in text
    assert "/record/990002/files/" not in text and 'rel="external' not in text


def test_a_file_index_built_here_has_json_and_txt_links(own: TestClient) -> None:
    text = page(own, "/record/990001")
    json_link = "http://testserver/record/990001/file_index/run_file_index.json"
    txt_link = "http://testserver/record/990001/file_index/run_file_index.txt"
    assert f'href="{json_link}" download' in text and f'href="{txt_link}" download' in text
    assert "1 file, 27.6 kB" in text
    listed = own.get(json_link).json()
    assert [f["key"] for f in listed] == [SAMPLE_FILE]
    assert own.get(txt_link).text == listed[0]["uri"] + "\n"


def test_versions_are_listed_and_an_older_one_can_be_shown(own: TestClient) -> None:
    text = page(own, "/record/990001")
    assert '<a href="http://testserver/record/990001?version=1">Version 1</a>' in text
    assert "<strong>Version 2</strong>" in text and "(current)" in text
    old = page(own, "/record/990001?version=1")
    assert html_problems(old) == []
    assert "Version 1 of 2" in old
    assert "run_file_index" not in old  # version 1 had no index
    # An older version links its file by its own path, not by the key the current version uses.
    assert "/eos/opendata/openhep/990001/" in old


def test_a_sample_record_names_its_parent(own: TestClient) -> None:
    text = page(own, "/record/990001")
    assert '<span class="related__type">Derived from</span>' in text
    assert '<a href="http://testserver/record/12341">' in text


def test_a_hostile_record_is_neutralised(own: TestClient) -> None:
    text = page(own, "/record/990100")
    assert html_problems(text) == []
    main = text.split('<main id="main">', 1)[1].split("</main>", 1)[0]
    assert "<script" not in main and "<style" not in main and "<iframe" not in main
    assert "onerror" not in main and "onclick" not in main
    assert "javascript:" not in main.lower() and "vbscript:" not in main.lower()
    assert "data:text" not in main
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in main  # the title, as text
    assert "<h3>Second title</h3>" in main
    assert "Gone record" in main and 'href="http://testserver/record/99999998"' not in main
    assert "bad link" in main


# -- the sanitiser -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("<p>a<p>b</p></p>", "<p>a</p><p>b</p>"),
        ("<script>alert(1)</script><p onclick=x>hi</p>", "<p>hi</p>"),
        ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
        ('<a href="/record/1">r</a>', '<a href="R/record/1">r</a>'),
        ("|eta<2.4 and pt>20", "|eta&lt;2.4 and pt&gt;20"),
        # A "tag" no HTML element has is text, not an element to drop with its name.
        ("|eta|<eta and pT>20 <p>x</p>", "|eta|&lt;eta and pT&gt;20 <p>x</p>"),
        # The <tbody> a browser's parser (and nh3's, html5ever) adds to a table's rows.
        (
            "<table><tr><td>a<td>b</table>",
            "<table><tbody><tr><td>a</td><td>b</td></tr></tbody></table>",
        ),
        ("<img src=x onerror=alert(1)>", '<img src="x" alt="" loading="lazy">'),
        ("<ul><li>a<li>b</ul>", "<ul><li>a</li><li>b</li></ul>"),
        ("<svg><script>x</script></svg>after", "after"),
        ("<div id=x><span class=y>t</span></div>", "t"),
        ("a &amp; b &lt;c&gt;", "a &amp; b &lt;c&gt;"),
        ("<b>unclosed", "<b>unclosed</b>"),
        ("</p>stray</b>", "stray"),
    ],
)
def test_sanitize_examples(given: str, expected: str) -> None:
    assert sanitize_html(given, "R") == expected


@pytest.mark.parametrize("value", ['"><b onmouseover=alert(1)>x', "a>b<c", "<img src=x>", "&amp;"])
def test_attribute_values_holding_markup_stay_values(value: str) -> None:
    given = f'<a href="/r" title="{escape(value)}">t</a><img src="/i" alt="{escape(value)}">'
    out = sanitize_html(given, "R")
    assert start_tags(out) == [
        ("a", [("href", "R/r"), ("title", value)]),
        ("img", [("src", "R/i"), ("alt", value), ("loading", "lazy")]),
    ]


def test_texts_sanitised_in_threads_keep_their_own_links() -> None:
    """The sanitiser is set up once and its URL rules see one text at a time per thread: texts
    cleaned at the same time (as the pages' worker threads do) get their own site's links."""
    texts = [f'<a href="/record/{n}">r</a><img src="/x{n}.png">' for n in range(200)]
    sites = [
        SiteLinks(f"R{n}", "https://origin", frozenset({f"/x{n}.png"}) if n % 2 else frozenset())
        for n in range(200)
    ]
    expected = [sanitize_html.__wrapped__(t, s) for t, s in zip(texts, sites, strict=True)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(sanitize_html.__wrapped__, texts, sites))
    assert got == expected
    assert expected[1] == (
        '<a href="R1/record/1">r</a><a href="https://origin/x1.png" class="external"'
        ' rel="external noopener">Image: image</a>'
    )
    assert expected[2] == '<a href="R2/record/2">r</a><img src="R2/x2.png" alt="" loading="lazy">'


@pytest.mark.parametrize(
    "url",
    ["javascript:x", " JAVASCRIPT:x", "java\tscript:x", "java\nscript:x", "\x01javascript:x",
     "vbscript:x", "data:text/html,x", "\\\\evil/x", "file:///etc/passwd"],
)  # fmt: skip
def test_unsafe_urls_are_refused(url: str) -> None:
    assert safe_url(url) is None


_FRAGMENTS = st.sampled_from(
    [
        "<p>", "</p>", "<a href='javascript:alert(1)'>", "<a href=\"java&#x0A;script:1\">",
        "<a href='/record/1'>", "</a>", "<img src=x onerror=alert(1)>", "<script>", "</script>",
        "<style>", "</style>", "<svg onload=alert(1)>", "</svg>", "<iframe>", "<table>", "<tr>",
        "<td>", "</td>", "</table>", "<ul>", "<li>", "</ul>", "<h1 id=x>", "</h1>", "<b>", "</i>",
        "<br/>", "<p/>", "<!-- c -->", "<![CDATA[x]]>", "<eta", "pt>", "<", ">", "&", "&lt;",
        "&#106;avascript:", "\"", "'", "onclick=alert(1)", "<div style='x'>", "</div>",
        "<a href=\"&#x6A;avascript:1\">", "<img src='data:image/png;base64,AA'>", "<textarea>",
        "<blockquote>", "<pre>", "<code>", "<ol start=3>", "<td colspan=2 onmouseover=x>",
    ]
)  # fmt: skip
# No "$" or "\\": formulas become MathML, which a second pass drops as it drops any <math> a
# record brings; they have their own fuzz test (test_pages_math.py).
_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="$\\"),
    max_size=20,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_FRAGMENTS, _TEXT), max_size=30))
# A link fostered out of a table inside another link: html5ever nests the two.
@example(["<a href='javascript:alert(1)'>", "<table>", "<a href='javascript:alert(1)'>"])
@example(["<li>", "<table>", "<li>"])
# A paragraph emptied of the image it held.
@example(["<p>", "<img src='data:image/png;base64,AA'>"])
def test_sanitized_html_is_safe_and_balanced(parts: list[str]) -> None:
    out = sanitize_html("".join(parts), "")
    for tag, attrs in start_tags(out):
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert name in ALLOWED_ATTRIBUTES.get(tag, ()) or (tag, name) in (
                ("img", "loading"),
            ), (tag, name)
            if name in ("href", "src"):
                assert value is not None and safe_url(value) == value, value
    lowered = out.lower()
    assert "<script" not in lowered and "<style" not in lowered and "<svg" not in lowered
    # Balanced, no ids, no <h1>: the page around it stays valid.
    wrapped = (
        '<!doctype html><html lang="en"><head><title>t</title></head><body><h1>t</h1>'
        f"<div>{out}</div></body></html>"
    )
    assert html_problems(wrapped) == []
    # Sanitising is idempotent: what it writes is already safe as it stands.
    assert sanitize_html(out, "") == out


# -- cost ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("recid", ["93914", "6004", "12341"])
def test_a_page_costs_a_few_queries_whatever_its_files(client: TestClient, recid: str) -> None:
    """One read of the record, its files' availability, related titles, versions and the
    documents its texts link: never one query per file (93914 has 373 files, 6004 names 7
    indices, 12341 relates 5 records)."""
    engine = client.app.state.portal.catalog.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def count(*args: Any) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        page(client, f"/record/{recid}")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 6, statements
