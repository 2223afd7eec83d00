"""Record texts (descriptions in CODP's HTML) made safe to embed in a page: an allow-list.

The output is built, not filtered: every tag written is one of :data:`ALLOWED_TAGS` with only
the attributes :data:`ALLOWED_ATTRIBUTES` names, every text and attribute value is escaped, and
the elements are balanced (what a browser would close implicitly is closed explicitly), so that
nothing in a record can add a script, a style, an event handler, a ``javascript:`` URL, an ``id``
or a second ``<h1>`` to the page it is shown on. LaTeX formulas in the text (``$\\eta$``)
become MathML built by :mod:`openhep.web.pages._math` from the parsed formula, outside
``<code>`` and ``<pre>``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape
from html.parser import HTMLParser

from openhep.web.pages._math import has_math, math_html

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "dl", "dt", "em", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "q", "s", "samp", "small", "strong", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var"
})  # fmt: skip
#: Headings of a record's text sit below the page's own section headings (``<h2>``).
RENAMED_TAGS = {"h1": "h3", "h2": "h3", "tt": "code", "strike": "s", "del": "s"}
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "abbr": frozenset({"title"}),
    "img": frozenset({"src", "alt", "width", "height", "title"}),
    "ol": frozenset({"start"}),
    "td": frozenset({"colspan", "rowspan"}),
    "th": frozenset({"colspan", "rowspan"}),
}
URL_ATTRIBUTES = frozenset({"href", "src"})
URL_SCHEMES = frozenset({"http", "https", "mailto"})
#: Elements dropped with everything inside them.
DROPPED_WITH_CONTENT = frozenset({
    "script", "style", "template", "iframe", "frame", "frameset", "object", "embed", "applet",
    "noscript", "noembed", "noframes", "textarea", "select", "option", "title", "head", "svg",
    "math", "canvas", "audio", "video", "xmp", "plaintext"
})  # fmt: skip
#: Other HTML elements: their tags are dropped, their text kept. A "tag" that is none of these
#: (``<eta>`` in "|eta<2.4 and pT>20" written without spaces) is shown as the text it was.
OTHER_HTML = frozenset({
    "address", "area", "article", "aside", "base", "basefont", "bdi", "bdo", "big", "body",
    "button", "caption", "center", "cite", "col", "colgroup", "data", "datalist", "details",
    "dfn", "dialog", "div", "fieldset", "figcaption", "figure", "font", "footer", "form",
    "header", "hgroup", "html", "input", "ins", "label", "legend", "link", "main", "map", "mark",
    "menu", "meta", "meter", "nav", "nobr", "optgroup", "output", "param", "picture", "progress",
    "rp", "rt", "ruby", "section", "source", "span", "summary", "time", "track", "wbr"
})  # fmt: skip
VOID = frozenset({"br", "hr", "img"})
#: Elements before which an open ``<p>`` closes (as HTML's parser does).
CLOSES_P = frozenset({
    "blockquote", "dd", "dl", "dt", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p", "pre",
    "table", "ul"
})  # fmt: skip
_CELLS = frozenset({"td", "th", "table"})
#: Where an implicit close stops looking (a ``<p>`` in a table cell stays in its cell).
SCOPE = frozenset({"td", "th", "table", "blockquote", "li", "dd", "dt"})
#: Elements a start tag closes: (the nearest open one of these, closed with what it holds; the
#: container where the search stops, closing what is open inside it; barriers that stop it).
SIBLINGS: dict[str, tuple[frozenset[str], frozenset[str], frozenset[str]]] = {
    "li": (frozenset({"li"}), frozenset({"ul", "ol"}), _CELLS),
    "dt": (frozenset({"dt", "dd"}), frozenset({"dl"}), _CELLS),
    "dd": (frozenset({"dt", "dd"}), frozenset({"dl"}), _CELLS),
    "tr": (frozenset({"tr"}), frozenset({"thead", "tbody", "tfoot", "table"}), frozenset()),
    "td": (frozenset({"td", "th"}), frozenset({"tr", "table"}), frozenset()),
    "th": (frozenset({"td", "th"}), frozenset({"tr", "table"}), frozenset()),
    **{
        part: (frozenset({"thead", "tbody", "tfoot"}), frozenset({"table"}), frozenset())
        for part in ("thead", "tbody", "tfoot")
    },
}
#: How far up an end tag looks for its element: table parts stay within their table.
_END_BOUNDS = {
    "table": frozenset(),
    **{part: frozenset({"table"}) for part in ("thead", "tbody", "tfoot", "tr", "td", "th")},
}
# Browsers drop tabs and newlines anywhere in a URL and C0 controls and spaces around it.
_URL_IGNORED = re.compile(r"[\x00-\x20\x7f]+")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
_NUMERIC = frozenset({"width", "height", "colspan", "rowspan", "start"})
_DIGITS = re.compile(r"^[0-9]{1,4}%?$")
#: Elements whose text is code, never LaTeX (``<code>$ git clone …</code>``).
VERBATIM = frozenset({"code", "pre", "kbd", "samp"})


def safe_url(value: str, root: str = "") -> str | None:
    """``value`` if it is an http(s), mailto or relative URL (``/x`` under ``root``), else None."""
    compact = _URL_IGNORED.sub("", value)
    scheme = _SCHEME.match(compact)
    if scheme is not None:
        return value.strip() if scheme.group(1).lower() in URL_SCHEMES else None
    if ":" in compact.split("/", 1)[0] or compact.startswith("\\") or "\\" in compact[:2]:
        return None
    cleaned = value.strip()
    if cleaned.startswith("/") and not cleaned.startswith("//"):
        return root + cleaned
    return cleaned


class _Sanitizer(HTMLParser):
    def __init__(self, root: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = root
        self.out: list[str] = []
        self.open: list[str] = []
        self.skipping: list[str] = []

    # -- structure -----------------------------------------------------------------------

    def _close_to(self, index: int) -> None:
        while len(self.open) > index:
            self.out.append(f"</{self.open.pop()}>")

    def _find(self, names: set[str] | frozenset[str], bounds: set[str] | frozenset[str]) -> int:
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index] in names:
                return index
            if self.open[index] in bounds:
                return -1
        return -1

    def _implicit_closes(self, tag: str) -> None:
        if tag in CLOSES_P:
            found = self._find({"p"}, SCOPE)
            if found >= 0:
                self._close_to(found)
        if tag in SIBLINGS:
            names, container, barriers = SIBLINGS[tag]
            for index in range(len(self.open) - 1, -1, -1):
                name = self.open[index]
                if name in names:
                    self._close_to(index)
                    break
                if name in container:
                    self._close_to(index + 1)
                    break
                if name in barriers:
                    break
        if tag == "a":
            found = self._find({"a"}, set())
            if found >= 0:
                self._close_to(found)

    # -- parser events -------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.append(tag)
            return
        if tag in DROPPED_WITH_CONTENT:
            self.skipping.append(tag)
            return
        tag = RENAMED_TAGS.get(tag, tag)
        if tag not in ALLOWED_TAGS:
            if tag not in OTHER_HTML:
                self.out.append(escape(self.get_starttag_text() or "", quote=False))
            return
        self._implicit_closes(tag)
        written = [tag]
        allowed = ALLOWED_ATTRIBUTES.get(tag, frozenset())
        seen: set[str] = set()
        for name, value in attrs:
            if name not in allowed or name in seen or value is None:
                continue
            if name in URL_ATTRIBUTES:
                value = safe_url(value, self.root)
                if value is None:
                    continue
            elif name in _NUMERIC and not _DIGITS.match(value.strip()):
                continue
            seen.add(name)
            written.append(f'{name}="{escape(value, quote=True)}"')
        if tag == "img":
            if "src" not in seen:
                return
            if "alt" not in seen:
                written.append('alt=""')
            written.append('loading="lazy"')
        self.out.append(f"<{' '.join(written)}>")
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # HTML ignores the slash of ``<p/>``: the element stays open, as a browser has it.
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        tag = RENAMED_TAGS.get(tag, tag)
        if tag not in ALLOWED_TAGS:
            if tag not in OTHER_HTML and tag not in DROPPED_WITH_CONTENT:
                self.out.append(escape(f"</{tag}>", quote=False))
            return
        if tag in VOID:
            return
        found = self._find({tag}, _END_BOUNDS.get(tag, _CELLS))
        if found >= 0:
            self._close_to(found)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if has_math(data) and not VERBATIM.intersection(self.open):
            # Formulas become MathML we write ourselves (``_math``); the text around them is
            # escaped as any other.
            self.out.append(math_html(data))
        else:
            self.out.append(escape(data, quote=False))

    def result(self) -> str:
        self.close()
        self._close_to(0)
        return "".join(self.out)


@lru_cache(maxsize=4096)
def sanitize_html(text: str, root: str = "") -> str:
    """``text`` (HTML from a record) as safe, balanced HTML; site-relative links under ``root``."""
    sanitizer = _Sanitizer(root)
    sanitizer.feed(text)
    return sanitizer.result()
