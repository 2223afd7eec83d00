"""The portal's own texts: Markdown files shipped in ``openhep/web/content`` (docs, news,
glossary), read once, rendered to HTML with raw HTML disabled, looked up by slug."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

#: A slug: what a content file is named (without ``.md``) and its URL's last segment.
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG = 80
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_HEADING_ID = re.compile(r"\s*\{#([a-z][a-z0-9-]*)\}\s*$")
_NUMBERING = re.compile(r"^\s*\d+[.)]\s+")
_TAG = re.compile(r"<[^>]*>")
#: Ids the page around a text already uses: a heading never takes them.
_PAGE_IDS = frozenset({"main", "header-q"})


def heading_text(source: str) -> str:
    """A heading's Markdown source as plain text: CODP writes ``## <a name="x">Title</a>``."""
    return " ".join(_TAG.sub("", source).split())


class ContentError(ValueError):
    """A content file the portal cannot publish; the message names the file and what to fix."""


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class Page:
    """One Markdown file, rendered."""

    slug: str
    title: str
    summary: str
    html: str
    #: ``## `` and ``### `` headings, in order: the page's table of contents
    headings: tuple[Heading, ...]
    date: date | None = None
    order: int = 0


def slugify(text: str) -> str:
    """``Collision energy (√s)`` → ``collision-energy-s``: an id made of ASCII words."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "section"


def _heading_ids(state: StateCore) -> None:
    """Give every heading an ``id``: ``{#id}`` at its end, else its slugified text (unique)."""
    seen: set[str] = set(_PAGE_IDS)
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[i + 1]
        explicit = _HEADING_ID.search(inline.content)
        if explicit:
            inline.content = inline.content[: explicit.start()]
            last = inline.children[-1] if inline.children else None
            if last is not None and last.type == "text":
                last.content = _HEADING_ID.sub("", last.content)
        # "4. Verify what you got" → "verify-what-you-got": ids that start with a letter.
        base = (
            explicit.group(1)
            if explicit
            else slugify(_NUMBERING.sub("", heading_text(inline.content)))[:80].rstrip("-")
        )
        if base[0].isdigit():
            base = f"h-{base}"
        anchor, n = base, 1
        while anchor in seen:
            n += 1
            anchor = f"{base}-{n}"
        seen.add(anchor)
        token.attrSet("id", anchor)


@cache
def markdown(html: bool = False) -> MarkdownIt:
    # CommonMark with tables; raw HTML is not passed through (it is shown as text) unless
    # ``html`` (CODP's pages, whose HTML the caller then sanitises), and markdown-it refuses
    # javascript:, vbscript:, file: and data: links by itself.
    parser = MarkdownIt("commonmark", {"html": html, "typographer": False}).enable("table")
    parser.core.ruler.push("heading_ids", _heading_ids)
    return parser


def render_markdown(text: str, *, html: bool = False) -> tuple[str, tuple[Heading, ...]]:
    """HTML of ``text`` and its ``##``/``###`` headings; ``html``: raw HTML passed through
    (for the caller to sanitise)."""
    parser = markdown(html)
    env: dict[str, Any] = {}
    tokens = parser.parse(text, env)
    headings = tuple(
        Heading(int(t.tag[1]), str(t.attrGet("id")), heading_text(tokens[i + 1].content))
        for i, t in enumerate(tokens)
        if t.type == "heading_open" and t.tag in ("h2", "h3")
    )
    return parser.renderer.render(tokens, parser.options, env), headings


def _front_matter(text: str, name: str) -> tuple[dict[str, str], str]:
    """``key: value`` lines between ``---`` lines at the top, and the rest."""
    found = _FRONT_MATTER.match(text)
    if not found:
        return {}, text
    fields: dict[str, str] = {}
    for number, line in enumerate(found.group(1).splitlines(), start=2):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise ContentError(f"{name}: line {number}: front matter lines are 'key: value'")
        fields[key.strip()] = value.strip()
    return fields, text[found.end() :]


def parse_page(slug: str, text: str, name: str) -> Page:
    """A content file as a page; its title from ``title:`` or its first ``# `` heading."""
    if not SLUG.match(slug) or len(slug) > MAX_SLUG:
        raise ContentError(f"{name}: name it with lower-case words and hyphens, like 'my-page.md'")
    fields, body = _front_matter(text.replace("\r\n", "\n"), name)
    title = fields.get("title", "")
    first = re.match(r"\A\s*# (.+)\n", body)
    if first:
        title = title or first.group(1).strip()
        body = body[first.end() :]  # the template shows the title as the page's one <h1>
    if not title:
        raise ContentError(f"{name}: give it a 'title:' in its front matter or a '# ' heading")
    when = None
    if "date" in fields:
        try:
            when = date.fromisoformat(fields["date"])
        except ValueError as exc:
            raise ContentError(
                f"{name}: date: expected YYYY-MM-DD, got {fields['date']!r}"
            ) from exc
    try:
        order = int(fields.get("order", "0"))
    except ValueError as exc:
        raise ContentError(f"{name}: order: expected a whole number") from exc
    html, headings = render_markdown(body)
    return Page(slug, title, fields.get("summary", ""), html, headings, when, order)


@cache
def pages(section: str) -> Sequence[Page]:
    """Every page of ``content/<section>``: by ``order`` then title, or newest first if dated."""
    folder = files("openhep.web") / "content" / section
    found = [
        parse_page(
            entry.name.removesuffix(".md"), entry.read_text("utf-8"), f"{section}/{entry.name}"
        )
        for entry in folder.iterdir()
        if entry.name.endswith(".md")
    ]
    if any(p.date for p in found):
        found.sort(key=lambda p: (p.date or date.min, p.slug), reverse=True)
    else:
        found.sort(key=lambda p: (p.order, p.title.lower()))
    return tuple(found)


def page(section: str, slug: str) -> Page | None:
    """The page ``slug`` of ``section``; ``None`` when there is none (or the slug is not one)."""
    if len(slug) > MAX_SLUG or not SLUG.match(slug):
        return None
    return next((p for p in pages(section) if p.slug == slug), None)


@cache
def single(name: str) -> Page:
    """A page that is a file of its own, ``content/<name>.md`` (the glossary)."""
    entry = files("openhep.web") / "content" / f"{name}.md"
    return parse_page(name, entry.read_text("utf-8"), f"{name}.md")
