"""Record texts (descriptions in CODP's HTML) made safe to embed in a page: an allow-list.

The output is built, not filtered: every tag written is one of :data:`ALLOWED_TAGS` with only
the attributes :data:`ALLOWED_ATTRIBUTES` names, every text and attribute value is escaped, and
the elements are balanced (what a browser would close implicitly is closed explicitly), so that
nothing in a record can add a script, a style, an event handler, a ``javascript:`` URL, an ``id``
or a second ``<h1>`` to the page it is shown on. LaTeX formulas in the text (``$\\eta$``)
become MathML built by :mod:`openhep.web.pages._math` from the parsed formula, outside
``<code>`` and ``<pre>``.

Site-relative links (``/docs/x``, ``/record/1``) are written under the portal's base URL when
this instance serves what they name, else (:class:`SiteLinks`) at the same path on the portal
the text came from, marked external; an image not held here becomes a link to it there. The
same rules, with headings, anchors and ``<details>`` kept, make CODP's documentation pages safe
(``document=True``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from html.parser import HTMLParser
from urllib.parse import urljoin

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
#: What documentation pages add: their own section headings, anchors and folded sections.
DOCUMENT_TAGS = ALLOWED_TAGS | {"h2", "details", "summary"}
DOCUMENT_RENAMED = {**RENAMED_TAGS, "h1": "h2", "h2": "h2"}
#: Elements of a document that may carry an ``id`` (``<a name>`` becomes one): the anchors
#: that links such as ``/docs/cms-guide-docker#images`` point to.
ANCHORED = frozenset({"a", "h2", "h3", "h4", "h5", "h6"})
_ANCHOR = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")
#: Ids the page around a document already uses.
RESERVED_IDS = frozenset({"main", "header-q"})
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


def resolve(url: str, base: str) -> str:
    """``url`` as a site-relative URL when it is relative to the page at path ``base`` (as a
    browser reads ``../record/1`` on ``/docs/x``); any other URL as it is."""
    cleaned = url.strip()
    if (
        not base
        or not cleaned
        or cleaned[0] in "/#?"
        or _SCHEME.match(_URL_IGNORED.sub("", cleaned))
    ):
        return cleaned
    return urljoin(base, cleaned)


def site_path(url: str, base: str = "") -> str | None:
    """The path a site-relative URL names (``/docs/x?y#z`` → ``/docs/x``), else None; a
    relative one is read against the page at path ``base`` first."""
    cleaned = resolve(url, base)
    if not cleaned.startswith("/") or cleaned.startswith("//"):
        return None
    path = cleaned.split("#", 1)[0].split("?", 1)[0]
    return path.rstrip("/") or "/"


@dataclass(frozen=True, slots=True)
class SiteLinks:
    """Where a text's site-relative links go: under ``root`` (this portal) unless their path
    is one of ``foreign`` (what this instance does not serve), which go to the same path on
    ``origin`` (the portal the text came from), marked external; with no origin they are
    left out (their text stays). Relative URLs are read against ``base``, the path of the
    page the text is shown on (CODP's docs write ``../record/1``)."""

    root: str = ""
    origin: str = ""
    foreign: frozenset[str] = frozenset()
    base: str = ""

    def url(self, value: str) -> tuple[str | None, bool]:
        """(the URL to write or None to leave it out, whether it leaves this portal)."""
        safe = safe_url(resolve(value, self.base))
        if safe is None:
            return None, False
        path = site_path(safe)
        if path is None:
            return safe, False
        if path in self.foreign:
            return (self.origin + safe, True) if self.origin else (None, True)
        return self.root + safe, False


class _Sanitizer(HTMLParser):
    def __init__(self, links: SiteLinks, *, document: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.links = links
        self.document = document
        self.allowed_tags = DOCUMENT_TAGS if document else ALLOWED_TAGS
        self.renamed = DOCUMENT_RENAMED if document else RENAMED_TAGS
        self.out: list[str] = []
        self.open: list[str] = []
        self.skipping: list[str] = []
        #: Site-relative paths met (what :func:`site_paths` reports).
        self.paths: set[str] = set()
        self.ids: set[str] = set(RESERVED_IDS)

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
        tag = self.renamed.get(tag, tag)
        if tag not in self.allowed_tags:
            if tag not in OTHER_HTML:
                self.out.append(escape(self.get_starttag_text() or "", quote=False))
            return
        self._implicit_closes(tag)
        written = [tag]
        allowed = ALLOWED_ATTRIBUTES.get(tag, frozenset())
        seen: set[str] = set()
        external = False
        for name, value in attrs:
            if self.document and tag in ANCHORED and name in ("id", "name") and value:
                anchor = value.strip()
                if "id" not in seen and _ANCHOR.match(anchor) and anchor not in self.ids:
                    self.ids.add(anchor)
                    seen.add("id")
                    written.append(f'id="{anchor}"')
                continue
            if name not in allowed or name in seen or value is None:
                continue
            if name in URL_ATTRIBUTES:
                path = site_path(value, self.links.base)
                if path is not None:
                    self.paths.add(path)
                url, leaves = self.links.url(value)
                if url is None:
                    continue
                value, external = url, leaves
            elif name in _NUMERIC and not _DIGITS.match(value.strip()):
                continue
            seen.add(name)
            written.append(f'{name}="{escape(value, quote=True)}"')
        if tag == "img":
            if "src" not in seen:
                return
            if external:
                self._image_link(written, attrs)
                return
            if "alt" not in seen:
                written.append('alt=""')
            written.append('loading="lazy"')
        if tag == "a" and external:
            written.append('class="external" rel="external noopener"')
        self.out.append(f"<{' '.join(written)}>")
        if tag not in VOID:
            self.open.append(tag)

    def _image_link(self, written: list[str], attrs: list[tuple[str, str | None]]) -> None:
        """An image not held here, as a link to it on the origin portal named by its alt
        text: the page loads nothing from another site and shows no broken image."""
        src = next(w for w in written if w.startswith("src="))
        alt = next((v for k, v in attrs if k == "alt" and v and v.strip()), None)
        label = escape(" ".join((alt or "image").split())[:200], quote=False)
        link = f'<a href{src[3:]} class="external" rel="external noopener">Image: {label}</a>'
        if self._find({"a"}, set()) >= 0:
            # Inside a link already (a linked image): its text, not a link in a link.
            self.out.append(f"[Image: {label}]")
        else:
            self.out.append(link)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # HTML ignores the slash of ``<p/>``: the element stays open, as a browser has it.
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        tag = self.renamed.get(tag, tag)
        if tag not in self.allowed_tags:
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
def sanitize_html(text: str, root: str | SiteLinks = "", *, document: bool = False) -> str:
    """``text`` (HTML from a record) as safe, balanced HTML; site-relative links under ``root``
    (or as :class:`SiteLinks` says). ``document``: a documentation page's body (its ``<h2>``
    headings, anchors and ``<details>`` kept)."""
    links = root if isinstance(root, SiteLinks) else SiteLinks(root)
    sanitizer = _Sanitizer(links, document=document)
    sanitizer.feed(text)
    return sanitizer.result()


@lru_cache(maxsize=4096)
def site_paths(text: str, base: str = "") -> frozenset[str]:
    """The site-relative paths the links and images of ``text`` (HTML, shown on the page at
    path ``base``) name."""
    sanitizer = _Sanitizer(SiteLinks(base=base))
    sanitizer.feed(text)
    sanitizer.result()
    return frozenset(sanitizer.paths)
