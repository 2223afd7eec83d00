"""Record texts (descriptions in CODP's HTML) made safe to embed in a page: nh3 with our rules.

The sanitising is nh3's (Ammonia, over html5ever: the HTML parser of a browser). It builds the
tree as a browser would, keeps the tags of :data:`ALLOWED_TAGS` (and those :data:`RENAMED_TAGS`
renames) with only the attributes :data:`ALLOWED_ATTRIBUTES` names, drops
:data:`DROPPED_WITH_CONTENT` with what they hold and comments, refuses URLs of other schemes
than :data:`URL_SCHEMES`, and writes balanced HTML with every text and attribute value
escaped: nothing in a record can add a script, a style, an event handler, a ``javascript:`` URL,
an ``id`` or a second ``<h1>`` to the page it is shown on. Its ``attribute_filter`` applies our
rules to the attributes it keeps: where a URL goes (:class:`SiteLinks`; nh3 checks URLs before
the filter, so the filter writes only what :func:`safe_url` accepts), digits only in sizes and
spans, anchors of the documented form.

Our own code does only what Ammonia cannot:

- Before nh3: the ``<`` of a "tag" no HTML element has (``<eta and pT>`` in "|eta|<eta and
  pT>20" written without spaces) is escaped, so that the text shows as it was written; Ammonia
  would parse it as an unknown element and drop its words.
- After nh3, on its output (well-formed: only allowed tags, attribute values quoted and escaped,
  text escaped, no comments; so a regular expression reads its tags exactly), one pass that
  renames tags (``<h1>`` → ``<h3>``, ``<tt>`` → ``<code>``: Ammonia renames nothing); adds
  ``alt=""`` (when absent) and ``loading="lazy"`` to images, and ``class="external"`` with
  ``rel="external noopener"`` only to links that leave for the origin portal (Ammonia's
  ``link_rel`` is for every link or none); turns an image not held here into a link to it
  (Ammonia replaces no element); in documents, makes ``<a name>`` an ``id`` and keeps an id
  only once a page (Ammonia's ``id_prefix`` only prefixes); leaves out the empty paragraph a
  stray ``</p>`` makes; and writes LaTeX formulas of text outside ``<code>``, ``<pre>``,
  ``<kbd>`` and ``<samp>`` as MathML built by :mod:`openhep.web.pages._math`. The MathML is
  made after nh3, on text nh3 has escaped, from ``_math``'s own allow-list: nh3 lets no
  ``<math>`` through, so none can come from a record.

nh3 builds the tree a browser builds, where the hand-written parser it replaces guessed: it adds
``<tbody>`` to a table's rows, moves text written between table rows before the table, closes a
``<p>`` at a ``<div>`` inside it, reads ``</br>`` as ``<br>`` and writes a non-breaking space
``&nbsp;``. Over the 13,498 distinct real texts (descriptions, titles) and the 80 CODP pages,
those (and a text the old parser cut, "-3<Eta<3.</p>") are all the differences in output; and
``sanitize_html`` takes about half the time it took (figures in ``docs/pages.md``).

Site-relative links (``/docs/x``, ``/record/1``) are written under the portal's base URL when
this instance serves what they name, else (:class:`SiteLinks`) at the same path on the portal
the text came from, marked external; an image not held here becomes a link to it there. The
same rules, with headings, anchors and ``<details>`` kept, make CODP's documentation pages safe
(``document=True``).
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape, unescape
from urllib.parse import urljoin

import nh3

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
_HTML = ALLOWED_TAGS | DOCUMENT_TAGS | RENAMED_TAGS.keys() | DROPPED_WITH_CONTENT | OTHER_HTML
# What a browser's tokenizer reads as the start of a tag: "<" or "</", a letter, the name.
_TAG_START = re.compile(r"<(/?)([A-Za-z][^\t\n\f\r />]*)")
# Browsers drop tabs and newlines anywhere in a URL and C0 controls and spaces around it.
_URL_IGNORED = re.compile(r"[\x00-\x20\x7f]+")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
_NUMERIC = frozenset({"width", "height", "colspan", "rowspan", "start"})
_DIGITS = re.compile(r"^[0-9]{1,4}%?$")
#: Elements whose text is code, never LaTeX (``<code>$ git clone …</code>``).
VERBATIM = frozenset({"code", "pre", "kbd", "samp"})
# nh3's output read back: the tags the pass after it rewrites or follows; any other tag, and
# text without formulas, is copied as nh3 wrote it. Attribute values are read as quoted
# strings (nh3 writes every one in double quotes, '"' escaped), so a '>' in one (which nh3
# escapes too) could not end a tag early.
_ATTRIBUTES = r'((?: [^\s="]+="[^"]*")*)'
_TAG = re.compile(r"<(/?)(a|img|h[1-6]|tt|strike|del|code|pre|kbd|samp)" + _ATTRIBUTES + ">")
# Any tag: what separates texts, where formulas are looked for.
_ANY_TAG = re.compile(r"<(/?)([a-z0-9]+)" + _ATTRIBUTES + ">")
_REWRITTEN = frozenset({"a", "img", "h1", "h2", "tt", "strike", "del"}) | ANCHORED | VERBATIM
_ATTRIBUTE = re.compile(r' ([^\s="]+)="([^"]*)"')


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


def _escape_unknown_tags(text: str) -> str:
    """``text`` with the ``<`` of every "tag" that names no HTML element escaped (text)."""
    if "<" not in text:
        return text
    return _TAG_START.sub(
        lambda m: m.group(0) if m.group(2).lower() in _HTML else "&lt;" + m.group(0)[1:], text
    )


@dataclass(slots=True)
class _Filter:
    """nh3's ``attribute_filter`` for one text: our rules for the attributes nh3 keeps, and
    what the pass after it needs to know (the URLs that leave for the origin portal)."""

    links: SiteLinks
    document: bool
    #: The URLs written that lead to the origin portal (their links are marked external).
    external: set[str] = field(default_factory=set)
    #: Site-relative paths met (what :func:`site_paths` reports).
    paths: set[str] = field(default_factory=set)

    def __call__(self, tag: str, name: str, value: str) -> str | None:
        if name in URL_ATTRIBUTES:
            path = site_path(value, self.links.base)
            if path is not None:
                self.paths.add(path)
            url, leaves = self.links.url(value)
            if url is not None and leaves:
                self.external.add(url)
            return url
        if name in _NUMERIC:
            return value if _DIGITS.match(value.strip()) else None
        if name in ("id", "name"):
            return value if _ANCHOR.match(value.strip()) else None
        return value


def _cleaner(document: bool, *, rules: bool = True) -> nh3.Cleaner:
    """nh3 set up once (building its options costs more than cleaning a description): our tags
    and attributes (renamed ones under their own names, renamed after), our URL rules."""
    renamed = DOCUMENT_RENAMED if document else RENAMED_TAGS
    tags = set(DOCUMENT_TAGS if document else ALLOWED_TAGS) | set(renamed)
    # "*": no attribute on every element (Ammonia's default would allow lang and title).
    attributes: dict[str, set[str]] = {"*": set()}
    for tag in tags:
        allowed = set(ALLOWED_ATTRIBUTES.get(renamed.get(tag, tag), ()))
        if document and renamed.get(tag, tag) in ANCHORED:
            allowed |= {"id", "name"} if tag == "a" else {"id"}
        if allowed:
            attributes[tag] = allowed
    return nh3.Cleaner(
        tags=tags,
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=attributes,
        attribute_filter=_filter if rules else None,
        url_schemes=set(URL_SCHEMES),
        link_rel=None,
        strip_comments=True,
    )


#: The filter of the text being cleaned: the cleaners are built once, the filter's state is
#: per text (a context variable, so threads cleaning at the same time keep theirs apart).
_CURRENT: ContextVar[_Filter] = ContextVar("sanitize_filter")


def _filter(tag: str, name: str, value: str) -> str | None:
    return _CURRENT.get()(tag, name, value)


_CLEANERS = {document: _cleaner(document) for document in (False, True)}
#: The same allow-lists without our attribute rules (already applied): a second parse of a
#: cleaned text that held a table. html5ever keeps what a misplaced table content is fostered
#: into (a link or list item inside another: ``<a><table><a>``), which written out a browser
#: reads as another tree; parsed once more it is the tree a browser builds, and stays so.
_RESTRUCTURE = {document: _cleaner(document, rules=False) for document in (False, True)}


def _clean(text: str, check: _Filter) -> str:
    token = _CURRENT.set(check)
    try:
        cleaned = _CLEANERS[check.document].clean(_escape_unknown_tags(text))
    finally:
        _CURRENT.reset(token)
    if "<table" in cleaned:
        cleaned = _RESTRUCTURE[check.document].clean(cleaned)
    return cleaned


def _image_link(attributes: list[tuple[str, str]], inside_link: bool) -> str:
    """An image not held here, as a link to it on the origin portal named by its alt text: the
    page loads nothing from another site and shows no broken image."""
    src = next(value for name, value in attributes if name == "src")
    alt = next((unescape(v) for k, v in attributes if k == "alt" and v.strip()), None)
    label = escape(" ".join((alt or "image").split())[:200], quote=False)
    if inside_link:
        # Inside a link already (a linked image): its text, not a link in a link.
        return f"[Image: {label}]"
    return f'<a href="{src}" class="external" rel="external noopener">Image: {label}</a>'


_PRE_NEWLINE = re.compile(r"(<pre(?:\s[^>]*)?>)\n")


class _After:
    """The pass over nh3's output (see the module's docstring): one tag or text at a time."""

    def __init__(self, check: _Filter) -> None:
        self.check = check
        self.renamed = DOCUMENT_RENAMED if check.document else RENAMED_TAGS
        self.ids: set[str] = set(RESERVED_IDS)
        self.verbatim = 0
        self.links = 0

    def text(self, text: str) -> str:
        if not self.verbatim and has_math(text):
            # Formulas become MathML we write ourselves (``_math``); the text around them is
            # escaped again by it.
            return str(math_html(unescape(text)))
        return text

    def tag(self, match: re.Match[str]) -> str:
        closing, tag, rest = match.groups()
        tag = self.renamed.get(tag, tag)
        step = -1 if closing else 1
        if tag in VERBATIM:
            self.verbatim += step
        if tag == "a":
            self.links += step
        if closing or tag in VERBATIM:
            return f"<{closing}{tag}{rest}>"
        written = [tag]
        attributes = _ATTRIBUTE.findall(rest)
        anchored = False
        for name, value in attributes:
            if name in ("id", "name"):
                anchor = unescape(value).strip()
                if not anchored and anchor not in self.ids:
                    self.ids.add(anchor)
                    anchored = True
                    written.append(f'id="{escape(anchor)}"')
                continue
            written.append(f'{name}="{value}"')
        if tag == "img":
            src = next((unescape(v) for k, v in attributes if k == "src"), None)
            if src is None:
                return ""
            if src in self.check.external:
                return _image_link(attributes, self.links > 0)
            if not any(name == "alt" for name, _ in attributes):
                written.append('alt=""')
            written.append('loading="lazy"')
        elif tag == "a":
            href = next((unescape(v) for k, v in attributes if k == "href"), None)
            if href is not None and href in self.check.external:
                written.append('class="external" rel="external noopener"')
        return f"<{' '.join(written)}>"

    def run(self, cleaned: str) -> str:
        # A stray "</p>" makes an empty paragraph (as in a browser): 288 real descriptions
        # have one; it shows nothing, so it is not written (nor one emptied of its image here).
        written = self._rewrite(cleaned).replace("<p></p>", "")
        # A parser drops the newline right after "<pre>": one that is the content's own is
        # written twice, so that the page shows it and sanitizing again changes nothing.
        return _PRE_NEWLINE.sub("\\1\n\n", written)

    def _rewrite(self, cleaned: str) -> str:
        if not has_math(cleaned):
            return _TAG.sub(self.tag, cleaned)
        out: list[str] = []
        end = 0
        for match in _ANY_TAG.finditer(cleaned):
            out.append(self.text(cleaned[end : match.start()]))
            out.append(self.tag(match) if match.group(2) in _REWRITTEN else match.group(0))
            end = match.end()
        out.append(self.text(cleaned[end:]))
        return "".join(out)


@lru_cache(maxsize=4096)
def sanitize_html(text: str, root: str | SiteLinks = "", *, document: bool = False) -> str:
    """``text`` (HTML from a record) as safe, balanced HTML; site-relative links under ``root``
    (or as :class:`SiteLinks` says). ``document``: a documentation page's body (its ``<h2>``
    headings, anchors and ``<details>`` kept)."""
    links = root if isinstance(root, SiteLinks) else SiteLinks(root)
    check = _Filter(links, document)
    return _After(check).run(_clean(text, check))


@lru_cache(maxsize=4096)
def site_paths(text: str, base: str = "") -> frozenset[str]:
    """The site-relative paths the links and images of ``text`` (HTML, shown on the page at
    path ``base``) name."""
    check = _Filter(SiteLinks(base=base), document=False)
    _clean(text, check)
    return frozenset(check.paths)
