"""Documentation and news pages in CODP's format: a JSON front (a list of one document) beside
its Markdown body, validated and bounded into a :class:`Document`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

#: A document's slug: its URL's last segment (``/docs/<slug>``), lower-case words and hyphens.
DOCUMENT_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG = 80
MAX_TITLE = 300
MAX_DESCRIPTION = 2_000
#: The largest body accepted: CODP's largest page is 27 kB; a hundred times that is a mistake.
MAX_BODY = 1 << 20
MAX_LIST = 20  # experiments or tags of one document
MAX_WORD = 100  # one experiment or tag
#: A body file named by the JSON: a plain file name beside it (no folder, no way up).
BODY_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}\.md$")

DocumentType = Literal["doc", "news"]
DOCUMENT_TYPES: tuple[DocumentType, ...] = ("doc", "news")


class DocumentError(ValueError):
    """A document that cannot be published; the message says which field and what to change."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentInfo:
    """A documentation or news page's fields but its body: what a list of them shows. The one
    definition of those fields; :class:`Document` adds the body, the catalogue when it stored
    one."""

    slug: str
    title: str
    type: DocumentType
    experiment: tuple[str, ...]
    tags: tuple[str, ...]
    description: str
    date_published: date | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "type": self.type,
            "experiment": list(self.experiment),
            "tags": list(self.tags),
            "description": self.description,
            "date_published": self.date_published.isoformat() if self.date_published else None,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Document(DocumentInfo):
    """One documentation or news page: what the catalogue stores and ``/docs/<slug>`` shows."""

    body: str  # Markdown (CODP's may hold HTML too: pages sanitise it)

    def as_json(self) -> dict[str, Any]:
        # Not super(): a slotted dataclass is a new class, which zero-argument super() misses.
        return DocumentInfo.as_json(self) | {"body": self.body}


def _text(value: Any, field: str, limit: int, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise DocumentError(f"{field}: expected a string")
    cleaned = " ".join(value.split())
    if required and not cleaned:
        raise DocumentError(f"{field}: must not be empty")
    if len(cleaned) > limit:
        raise DocumentError(f"{field}: {len(cleaned)} characters, at most {limit}")
    return cleaned


def _words(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise DocumentError(f"{field}: expected a list of strings")
    if len(value) > MAX_LIST:
        raise DocumentError(f"{field}: {len(value)} entries, at most {MAX_LIST}")
    words = [_text(v, f"{field}[{i}]", MAX_WORD) for i, v in enumerate(value)]
    return tuple(dict.fromkeys(words))


def _type(value: Any) -> DocumentType:
    """CODP's ``{"primary": "News"}`` is news; ``Documentation`` (any subtype) a doc."""
    primary = value.get("primary") if isinstance(value, Mapping) else value
    if primary == "News" or primary == "news":
        return "news"
    if primary in ("Documentation", "doc", None):
        return "doc"
    raise DocumentError(f"type.primary: expected 'Documentation' or 'News', got {primary!r}")


def body_file(front: Any) -> str:
    """The file name of a CODP document's Markdown body (``body.content``), checked."""
    if not isinstance(front, Mapping):
        raise DocumentError("expected a JSON object (or a list of one)")
    body = front.get("body")
    if not isinstance(body, Mapping):
        raise DocumentError('body: expected {"content": "<file>.md", "format": "md"}')
    if body.get("format", "md") != "md":
        raise DocumentError(f"body.format: only 'md' is read, got {body.get('format')!r}")
    name = body.get("content")
    if not isinstance(name, str) or not BODY_FILE.match(name):
        raise DocumentError(
            "body.content: expected the name of a .md file beside the JSON (letters, digits,"
            f" '_', '.', '-'), got {str(name)[:100]!r}"
        )
    return name


def front_of(data: Any) -> Mapping[str, Any]:
    """The document of a CODP JSON file: a list of exactly one object (or the object)."""
    if isinstance(data, list):
        if len(data) != 1:
            raise DocumentError(f"expected a list of one document, got {len(data)} entries")
        data = data[0]
    if not isinstance(data, Mapping):
        raise DocumentError("expected a JSON object (or a list of one)")
    return data


def parse_document(front: Mapping[str, Any], body: str) -> Document:
    """A :class:`Document` from CODP's JSON front and its Markdown body, or
    :class:`DocumentError` naming the field to fix."""
    slug = front.get("slug")
    if not isinstance(slug, str) or len(slug) > MAX_SLUG or not DOCUMENT_SLUG.match(slug):
        raise DocumentError(
            f"slug: expected 1 to {MAX_SLUG} lower-case letters, digits and single hyphens,"
            f" got {str(slug)[:100]!r}"
        )
    if len(body.encode()) > MAX_BODY:
        raise DocumentError(f"body: {len(body.encode()):,} bytes, at most {MAX_BODY:,}")
    if "\x00" in body:
        raise DocumentError("body: contains a NUL character (not a text file?)")
    described = front.get("short_description")
    if isinstance(described, Mapping):
        described = described.get("content")
    published = front.get("date_published")
    when = None
    if published is not None:
        try:
            when = date.fromisoformat(str(published))
        except ValueError:
            raise DocumentError(
                f"date_published: expected YYYY-MM-DD, got {str(published)[:40]!r}"
            ) from None
    return Document(
        slug=slug,
        title=_text(front.get("title"), "title", MAX_TITLE),
        type=_type(front.get("type")),
        experiment=_words(front.get("experiment"), "experiment"),
        tags=_words(front.get("tags"), "tags"),
        description=_text(described, "short_description", MAX_DESCRIPTION, required=False),
        body=body.replace("\r\n", "\n"),
        date_published=when,
    )
