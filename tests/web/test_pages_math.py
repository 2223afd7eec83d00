"""Record pages as CODP's records need them: LaTeX as MathML written on the server (every formula
of the real records, none left raw; hostile LaTeX harmless; dollars that are no formulas kept),
author lists complete, CODP's section labels, BibTeX accents in names.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _services.html import html_problems, start_tags
from openhep.web.pages._math import ATTRIBUTES, ELEMENTS, math_html, math_text, tex_accents
from openhep.web.pages._sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, sanitize_html
from openhep.web.pages.records import LISTED_AUTHORS, section_labels

HTML = {"accept": "text/html"}
DESCRIBED = ("abstract", "methodology", "validation", "usage", "note", "pileup", "use_with")
#: Code is shown as written: ``<code>$ git clone …</code>`` keeps its dollar.
_CODE = re.compile(r"<(code|pre|kbd|samp)>.*?</\1>", re.DOTALL)
_LATEX_LEFT = re.compile(r"\$|\\[A-Za-z()\[\]{}%]")


def page(client: TestClient, path: str) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, (path, response.text[:500])
    return response.text


def _record_texts(record: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(HTML texts, plain texts) of a record that may hold LaTeX."""
    html = [
        str(record[name]["description"])
        for name in DESCRIBED
        if isinstance(record.get(name), dict) and record[name].get("description")
    ]
    plain = [str(record["title"]), str(record.get("title_additional") or "")]
    plain += [str(v.get("description") or "") for v in record.get("dataset_semantics") or []]
    plain += [str(link.get("title") or "") for link in record.get("links") or []]
    return html, plain


def test_every_formula_of_the_real_records_becomes_mathml(
    codp_records: list[dict[str, Any]],
) -> None:
    formulas = 0
    left = []
    for record in codp_records:
        html, plain = _record_texts(record)
        rendered = [sanitize_html(text) for text in html] + [str(math_html(t)) for t in plain]
        for text in rendered:
            formulas += text.count("<math")
            outside_code = _CODE.sub("", text)
            if _LATEX_LEFT.search(outside_code):
                left.append((record["recid"], _LATEX_LEFT.findall(outside_code)[:5]))
        for text in [*plain, *html]:
            if re.search(r"\\[A-Za-z]", math_text(text)):
                left.append((record["recid"], "plain text"))
    assert left == []
    # 296 formulas in titles, descriptions, variables and links (CODP's data at hand).
    assert formulas >= 290


def test_a_title_with_latex_is_mathml_in_the_page_and_text_in_title_and_json_ld(
    client: TestClient,
) -> None:
    text = page(client, "/record/93945")
    h1 = re.search(r'<h1 id="record-title">(.*?)</h1>', text, re.DOTALL)
    assert h1 is not None
    assert h1.group(1).startswith('[<math display="inline"><mrow><msup><mi>B</mi>')
    assert "<mi>ψ</mi>" in h1.group(1) and "$" not in h1.group(1) and "\\" not in h1.group(1)
    assert "<title>[B± → J/ψ(→ μ⁺μ⁻)K±]CC Ntuples 4530 · OpenHEP</title>" in text
    ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', text, re.DOTALL)
    assert ld is not None
    document = orjson.loads(ld.group(1))
    assert document["name"] == "[B± → J/ψ(→ μ⁺μ⁻)K±]CC Ntuples 4530"
    assert "$" not in document["description"] and "<math" not in document["description"]
    assert "[B± → J/ψ(→ μ⁺μ⁻)K±]CC Ntuples 4530. CERN Open Data portal" in text  # cite as
    # The search page shows the formula too, and its short description as text.
    search = page(client, "/search?q=recid:93945")
    assert '<a href="http://testserver/record/93945">[<math display="inline">' in search
    assert "exploring B± → J/ψ(→ μ⁺μ⁻)K± decays" in search


def test_display_math_and_math_in_descriptions(client: TestClient) -> None:
    text = page(client, "/record/328")  # \[ … \] and $…$ in the description and variables
    assert text.count('<math display="block">') == 3
    assert "<mi>η</mi>" in text  # "The pseudorapidity $\eta$ of the hadronic tau."
    assert html_problems(text) == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("costs $5 or $10", "costs $5 or $10"),
        ("$ git clone x", "$ git clone x"),
        ("a $(root-config --libs) b", "a $(root-config --libs) b"),
        ("a \\$5 and 6\\$", "a \\$5 and 6\\$"),
        ("<b>$x$</b> & co",
         '&lt;b&gt;<math display="inline"><mrow><mi>x</mi></mrow></math>&lt;/b&gt; &amp; co'),
        ("bad $\\frac$ <i>", "bad $\\frac$ &lt;i&gt;"),  # does not parse: the source, escaped
        ("$x$5", "$x$5"),  # a closing "$" is not followed by a digit
    ],
)  # fmt: skip
def test_what_is_a_formula_and_what_stays_text(given: str, expected: str) -> None:
    assert str(math_html(given)) == expected


def test_code_keeps_its_dollars() -> None:
    given = "<p>Run <code>g++ x.C $(root-config --libs) $HOME$</code> for $\\eta$.</p>"
    out = sanitize_html(given)
    assert "<code>g++ x.C $(root-config --libs) $HOME$</code>" in out
    assert out.endswith('for <math display="inline"><mrow><mi>η</mi></mrow></math>.</p>')


@pytest.mark.parametrize(
    "latex",
    [
        "$\\text{<script>alert(1)</script>}$",
        "$\\href{javascript:alert(1)}{x}$",
        "$a<b$",
        "$\\color{red}{x}\\style{x}$",
        "$\\mathrm{</math><img src=x onerror=alert(1)>}$",
        "$\\text{&lt;script&gt;}$",
        "$" + "{" * 400 + "x" + "}" * 400 + "$",
    ],
)
def test_hostile_latex_is_inert(latex: str) -> None:
    for out in (str(math_html(latex)), sanitize_html(f"<p>{latex}</p>")):
        _assert_safe(out)


def _assert_safe(out: str) -> None:
    tags = start_tags(out)
    for tag, attrs in tags:
        assert tag in ELEMENTS or tag in ALLOWED_TAGS, tag
        allowed = ATTRIBUTES if tag in ELEMENTS else ALLOWED_ATTRIBUTES.get(tag, frozenset())
        for name, _ in attrs:
            assert name in allowed or (tag, name) == ("img", "loading"), (tag, name)
    for tag, attrs in tags:
        if tag in ELEMENTS:  # MathML: layout only, never a link or a handler
            assert not {n for n, _ in attrs} & {"href", "style", "class", "id"}, (tag, attrs)
        for name, value in attrs:
            assert "javascript" not in str(value).lower(), (tag, name, value)
    assert "<script" not in out.lower()
    wrapped = (
        '<!doctype html><html lang="en"><head><title>t</title></head><body><h1>t</h1>'
        f"<div>{out}</div></body></html>"
    )
    assert html_problems(wrapped) == []


_LATEX = st.sampled_from(
    [
        "$", "$$", "\\[", "\\]", "\\(", "\\)", "\\frac", "{", "}", "^", "_", "\\text{",
        "\\href{", "javascript:alert(1)", "\\mathrm", "\\sqrt", "\\begin{matrix}",
        "\\end{matrix}", "&", "\\\\",
        "<script>", "</math>", "<b>", "</b>", "<code>", "</code>", "<a href='x'>", "</a>", "\\eta",
        "\\pm", "\\to", "x", " ", "1", "\\left(", "\\right)", "\\color{red}", "%", "~", "\\$",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LATEX, max_size=25))
def test_any_latex_gives_safe_balanced_html(parts: list[str]) -> None:
    text = "".join(parts)
    _assert_safe(sanitize_html(text))
    _assert_safe(str(math_html(text)))
    assert isinstance(math_text(text), str)  # plain text: the template escapes it


# -- author lists ---------------------------------------------------------------------------------


def test_an_author_list_shows_every_name(
    client: TestClient, codp_records: list[dict[str, Any]]
) -> None:
    record = next(r for r in codp_records if str(r["recid"]) == "451")
    authors = [a for a in record["authors"] if a.get("name")]
    assert len(authors) > 3000  # the CMS author list of the 2011 release
    text = page(client, "/record/451")
    assert html_problems(text) == []
    shown, folded = text.split('<details class="authors-more">', 1)
    names = re.findall(r"<li>([^<]+?)(?: <a class=\"orcid\"| <span class=\"muted\"|</li>)", text)
    assert [unescape(n) for n in names[-len(authors) :]] == [
        tex_accents(a["name"]) for a in authors
    ]
    assert len(re.findall(r"<li>", shown.split('<ul class="authors">', 1)[1])) == LISTED_AUTHORS
    more = len(authors) - LISTED_AUTHORS
    assert f"<summary>{more:,} more authors ({len(authors):,} in all)</summary>" in folded
    # CODP's words: the author list's description is its title (it has no note), its authors
    # are "Author information"; names come with BibTeX accents read.
    assert '<h2 id="description">Description</h2>' in text
    assert '<div class="prose">CMS author list for the 2011 data release</div>' in text
    assert '<h2 id="authors">Author information</h2>' in text
    assert "\\" not in text.split('<h2 id="authors">', 1)[1].split("</section>", 1)[0]


def test_bibtex_accents_of_the_real_author_names(codp_records: list[dict[str, Any]]) -> None:
    names = {
        str(a.get(field) or "")
        for r in codp_records
        for a in r.get("authors") or []
        for field in ("name", "affiliation")
    }
    assert [n for n in names if "\\" in tex_accents(n) or "{" in tex_accents(n)] == []
    assert tex_accents("Abell{\\'a}n Beteta, Carlos") == "Abellán Beteta, Carlos"
    assert tex_accents("Marchand, Jean Fran\\c{c}ois") == "Marchand, Jean François"
    assert tex_accents("Garc\\'ia Pardi\\~nas, Juli\\'an") == "García Pardiñas, Julián"
    assert tex_accents("Bj\\orn, Mikkel") == "Bjørn, Mikkel"
    assert tex_accents('M{\\"u}ller') == "Müller"


# -- CODP's labels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ({"primary": "Dataset", "secondary": ["Collision"]},
         ("How were these data selected?", "How were these data validated?",
          "How can you use these data?", "Issues and limitations")),
        ({"primary": "Dataset", "secondary": ["Simulated"]},
         ("How were these data generated?", "How were these data validated?",
          "How can you use these data?", "Issues and limitations")),
        ({"primary": "Software", "secondary": ["Analysis"]},
         ("Data selection", "Validation", "How can you use this?", "Note")),
        ({"primary": "Environment", "secondary": ["Validation"]},
         ("How was this built?", "How was the validation done?", "How to use?", "Note")),
        ({"primary": "Environment", "secondary": ["VM"]},
         ("How was this built?", "How to validate?", "How to use?", "Note")),
        ({"primary": "Supplementaries", "secondary": ["Configuration"]},
         ("Methodology", "How were these data validated?", "How can you use these data?", "Note")),
    ],
)  # fmt: skip
def test_section_labels_are_codps(kind: dict[str, Any], expected: tuple[str, ...]) -> None:
    labels = section_labels({"type": kind})
    assert (
        labels["methodology"],
        labels["validation"],
        labels["usage"],
        labels["note"],
    ) == expected


def test_a_configuration_records_note_is_shown(client: TestClient) -> None:
    text = page(client, "/record/108")
    assert '<h2 id="issues">Note</h2>' in text
    assert "This file describes the exact setup for the CMS software executable" in text
