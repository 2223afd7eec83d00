"""LaTeX in record texts (``$B^{\\pm} \\to J/\\psi K^{\\pm}$``) as MathML made on the server.

CODP writes formulas in titles, descriptions, variable descriptions and link titles between
``$…$`` (and, in one record, ``\\[…\\]``) and typesets them with MathJax in the browser. We
parse them with ``latex2mathml`` and write the MathML ourselves from its element tree: only the
elements of :data:`ELEMENTS` and the attributes of :data:`ATTRIBUTES` (with plain values), every
text escaped. The library's own serialisation is not used: it writes ``\\text{<script>}`` and
``a<b`` unescaped and ``\\href`` as an attribute.

Which ``$`` opens a formula (the rule of pandoc's ``tex_math_dollars``, checked against the
7,535 real records): an opening ``$`` has a non-space character right after it, the closing one
a non-space right before it and no digit right after it, and ``\\$`` is a dollar sign. So
``$ git clone``, ``$(root-config --libs)`` (no closing ``$``) and "costs $5 or $10" stay text;
so does everything inside ``<code>``, ``<pre>``, ``<kbd>`` and ``<samp>`` (the sanitiser's
concern). A formula that does not parse, or is longer than :data:`MAX_FORMULA`, is shown as
its source text, escaped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from html import escape, unescape
from xml.etree.ElementTree import Element

from latex2mathml.converter import convert_to_element
from markupsafe import Markup
from markupsafe import escape as markup_escape

#: MathML Core's presentation elements. ``semantics``/``annotation-xml`` (which may hold HTML)
#: and ``maction`` are not among them; an element that is not listed is written as ``mrow``.
ELEMENTS = frozenset({
    "math", "menclose", "merror", "mfrac", "mi", "mmultiscripts", "mn", "mo", "mover",
    "mpadded", "mphantom", "mprescripts", "mroot", "mrow", "ms", "mspace", "msqrt", "mstyle",
    "msub", "msubsup", "msup", "mtable", "mtd", "mtext", "mtr", "munder", "munderover", "none",
})  # fmt: skip
#: Layout attributes; no ``href``, ``style``, ``class``, ``id``, colours or event handlers.
ATTRIBUTES = frozenset({
    "accent", "accentunder", "align", "columnalign", "columnlines", "columnspacing",
    "columnspan", "denomalign", "depth", "display", "displaystyle", "fence", "form", "frame",
    "height", "largeop", "linethickness", "lspace", "mathsize", "mathvariant", "maxsize",
    "minsize", "movablelimits", "notation", "numalign", "rowalign", "rowlines", "rowspacing",
    "rowspan", "rspace", "scriptlevel", "separator", "stretchy", "symmetric", "voffset", "width",
})  # fmt: skip
_VALUE = re.compile(r"^[A-Za-z0-9 .%+\-]{0,64}$")
#: Longer "formulas" are no formulas (an unclosed ``$`` reaching far): shown as text.
MAX_FORMULA = 2000
#: ``$…$`` (pandoc's rule, above), ``$$…$$``, ``\(…\)`` and ``\[…\]``.
_FORMULA = re.compile(
    r"\$\$(?P<display>[^$]+?)\$\$"
    r"|(?<![\\$])\$(?P<inline>[^\s$](?:[^$]*?[^\s\\$])?)\$(?![0-9$])"
    r"|\\\[(?P<bracket>.+?)\\\]"
    r"|\\\((?P<paren>.+?)\\\)",
    re.DOTALL,
)
_MARKERS = ("$", "\\[", "\\(")
#: What a formula's plain text writes for sub- and superscripts it can.
_SUPERSCRIPTS = str.maketrans("0123456789+-\u2212=()ni", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱ")
_SUBSCRIPTS = str.maketrans("0123456789+-\u2212=()aeoxhklmnpst", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜ")
_SPACED_OPERATORS = frozenset("=<>→←↔⇒±∓\u00d7∈∉≤≥≈≠\u223c∝⟶")


def has_math(text: str) -> bool:
    """Whether ``text`` may hold a formula (a cheap test before any parsing)."""
    return any(marker in text for marker in _MARKERS)


def _pieces(text: str) -> Iterator[tuple[str, str | None, bool]]:
    """``text`` as (source, LaTeX or None for plain text, display) pieces in order."""
    end = 0
    for match in _FORMULA.finditer(text):
        latex = next(g for g in match.groups() if g is not None)
        yield text[end : match.start()], None, False
        display = match.group("display") is not None or match.group("bracket") is not None
        yield match.group(0), latex, display
        end = match.end()
    yield text[end:], None, False


@lru_cache(maxsize=4096)
def _element(latex: str, display: bool) -> Element | None:
    if len(latex) > MAX_FORMULA:
        return None
    try:
        return convert_to_element(latex.strip(), display="block" if display else "inline")
    except Exception:  # the library raises many kinds (and RecursionError): show the source
        return None


def _text(value: str | None) -> str:
    # The library writes characters as "&#x003C8;" inside its texts (and leaves a user's "<"
    # as it is): read both as characters, to be escaped once on the way out.
    return unescape(value) if value else ""


def _write(element: Element, out: list[str]) -> None:
    tag = element.tag if element.tag in ELEMENTS else "mrow"
    written = [tag]
    for name, value in element.attrib.items():
        if name in ATTRIBUTES and _VALUE.match(value):
            written.append(f'{name}="{escape(value, quote=True)}"')
    out.append(f"<{' '.join(written)}>")
    out.append(escape(_text(element.text), quote=False))
    for child in element:
        _write(child, out)
        out.append(escape(_text(child.tail), quote=False))
    out.append(f"</{tag}>")


@lru_cache(maxsize=4096)
def formula_html(latex: str, display: bool = False) -> str | None:
    """The MathML of one formula (without its ``$``), or None when it does not parse."""
    element = _element(latex, display)
    if element is None:
        return None
    out: list[str] = []
    _write(element, out)
    return "".join(out)


def math_html(text: str) -> Markup:
    """Plain ``text`` as HTML: escaped, its formulas as MathML (unparsable ones as source)."""
    if not has_math(text):
        return markup_escape(text)
    return Markup(_math_html(text))  # noqa: S704 - escaped text and MathML written by _write


@lru_cache(maxsize=4096)
def _math_html(text: str) -> str:
    out: list[str] = []
    for source, latex, display in _pieces(text):
        mathml = formula_html(latex, display) if latex is not None else None
        out.append(mathml if mathml is not None else escape(source, quote=False))
    return "".join(out)


#: Accents written over a letter (``\\bar{t}``, ``\\vec{E}``) as Unicode combining marks.
_ACCENTS = {
    "\u00af": "\u0304",
    "\u2192": "\u20d7",
    "^": "\u0302",
    "~": "\u0303",
    "\u02d9": "\u0307",
}
#: Elements whose first child is a base and the others its scripts: (sub, super) tables.
_SCRIPTED = {
    "msub": (_SUBSCRIPTS,),
    "msup": (_SUPERSCRIPTS,),
    "msubsup": (_SUBSCRIPTS, _SUPERSCRIPTS),
    "munder": (_SUBSCRIPTS,),
    "mover": (_SUPERSCRIPTS,),
    "munderover": (_SUBSCRIPTS, _SUPERSCRIPTS),
}


def _script(text: str, table: dict[int, int]) -> str:
    mapped = text.translate(table)
    # A script with no Unicode form (the ± of B^{\\pm}) follows its base as it is.
    return mapped if all(c not in mapped for c in text) else text


def _plain(element: Element, spaced: bool = True) -> str:
    """A formula as text: scripts in Unicode super/subscripts where they exist, accents as
    combining marks, relations and arrows spaced (at the top level only)."""
    tag = str(element.tag)
    inner = spaced and tag in ("math", "mrow", "mstyle", "mpadded")
    children = [_plain(child, inner) for child in element]
    if tag in _SCRIPTED and children:
        base, *scripts = children
        if tag == "mover" and scripts and scripts[0].strip() in _ACCENTS:
            return base.strip() + _ACCENTS[scripts[0].strip()]
        out = base.strip()
        for script, table in zip(scripts, _SCRIPTED[tag], strict=False):
            out += _script(script.strip(), table)
        return out
    if tag in ("msqrt", "mroot") and children:
        body = "".join(children) if tag == "msqrt" else children[0]
        return f"\u221a({body.strip()})" if len(body.strip()) > 1 else f"\u221a{body.strip()}"
    if tag == "mfrac" and len(children) == 2:
        return f"{children[0].strip()}/{children[1].strip()}"
    text = _text(element.text).replace("\u00a0", " ")
    if spaced and tag == "mo" and text.strip() in _SPACED_OPERATORS:
        text = f" {text.strip()} "
    return text + "".join(c + _text(child.tail) for c, child in zip(children, element, strict=True))


_TIGHT = re.compile(r"([(\[{]) | ([)\]}])")


@lru_cache(maxsize=4096)
def math_text(text: str) -> str:
    """``text`` with its formulas as plain Unicode text (``B± → J/ψ(→ μ⁺μ⁻)K±``): for the
    page's ``<title>``, meta description, JSON-LD and the search page's short descriptions."""
    if not has_math(text):
        return text
    out: list[str] = []
    for source, latex, display in _pieces(text):
        element = _element(latex, display) if latex is not None else None
        if element is None:
            out.append(source)
        else:
            out.append(_TIGHT.sub(r"\1\2", " ".join(_plain(element).split())))
    return "".join(out)


#: BibTeX's accents (author names: ``Abell{\'a}n``, ``M\"uller``, ``Fran\c{c}ois``) as Unicode
#: combining marks, and its letters (``{\ss}``, ``{\o}``).
_TEX_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
    ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
    "r": "\u030a",
}  # fmt: skip
_TEX_LETTERS = {
    "ss": "ß", "o": "ø", "O": "Ø", "aa": "å", "AA": "Å", "ae": "æ", "AE": "Æ", "oe": "œ",
    "OE": "Œ", "l": "ł", "L": "Ł", "i": "\u0131", "j": "ȷ",
}  # fmt: skip
_TEX_ACCENT = re.compile(
    r"""\{?\\(?:([`'^"~=.])\s*|([uvHckr])(?:\s+|(?=\{)))\{?(\\[ij]|[A-Za-z])\}?\}?"""
)
_TEX_LETTER = re.compile(r"\{?\\(ss|aa|AA|ae|AE|oe|OE|[oOlLij])\}?")  # Bj\\orn too


@lru_cache(maxsize=8192)
def tex_accents(text: str) -> str:
    """``Abell{\\'a}n Beteta`` → ``Abellán Beteta``: BibTeX accents and letters as Unicode."""
    if "\\" not in text:
        return text

    def accent(match: re.Match[str]) -> str:
        mark = _TEX_ACCENTS[match.group(1) or match.group(2)]
        letter = match.group(3)
        base = _TEX_LETTERS[letter[1:]] if letter.startswith("\\") else letter
        return unicodedata.normalize("NFC", base + mark)

    text = _TEX_ACCENT.sub(accent, text)
    return _TEX_LETTER.sub(lambda m: _TEX_LETTERS[m.group(1)], text)
