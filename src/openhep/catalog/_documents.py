"""Documents: CODP's documentation and news pages held in the catalogue, read from a folder of
JSON fronts and Markdown bodies, written all at once, listed and searched."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, insert, or_, select, update

from openhep.catalog._schema import documents, generations
from openhep.model import (
    DOCUMENT_SLUG,
    DOCUMENT_TYPES,
    Document,
    DocumentError,
    DocumentInfo,
    body_file,
    front_of,
    parse_document,
)

#: A JSON front larger than this is not one of CODP's (theirs are under 2 kB).
MAX_FRONT = 64 << 10
#: Documents one folder may hold: CODP has about a hundred.
MAX_DOCUMENTS = 10_000
#: A search's text: at most this many characters and words (each word must match).
MAX_QUERY = 200
MAX_QUERY_WORDS = 10


class DocumentSourceError(ValueError):
    """A folder of documents that cannot be loaded; the message names the file and the fix."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentSummary(DocumentInfo):
    """What a list of documents shows: the model's fields of a document but its body, and when
    the catalogue stored it."""

    updated: datetime

    def as_json(self) -> dict[str, Any]:
        # Not super(): a slotted dataclass is a new class, which zero-argument super() misses.
        return DocumentInfo.as_json(self) | {"updated": self.updated.isoformat()}


@dataclass(frozen=True, slots=True)
class StoredDocument:
    document: Document
    updated: datetime


@dataclass(slots=True)
class DocumentsResult:
    """What a load did: slugs created, updated and left unchanged."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "documents": len(self.created) + len(self.updated) + len(self.unchanged),
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
        }


def read_document(front_path: Path) -> Document:
    """The document of one CODP JSON file and the Markdown body it names beside it."""
    try:
        if front_path.stat().st_size > MAX_FRONT:
            raise DocumentError(f"larger than {MAX_FRONT:,} bytes: not a document's front")
        front = front_of(orjson.loads(front_path.read_bytes()))
        body_path = front_path.parent / body_file(front)
        if not body_path.is_file():
            raise DocumentError(f"body.content: {body_path.name} is not beside it")
        if body_path.stat().st_size > (1 << 20):
            raise DocumentError(f"body: {body_path.name} is larger than 1 MiB")
        return parse_document(front, body_path.read_text("utf-8"))
    except orjson.JSONDecodeError as exc:
        raise DocumentSourceError(f"{front_path}: not JSON: {exc}") from None
    except UnicodeDecodeError:
        raise DocumentSourceError(f"{front_path}: its body is not UTF-8 text") from None
    except (DocumentError, OSError) as exc:
        raise DocumentSourceError(f"{front_path}: {exc}") from None


def read_documents(folder: Path) -> list[Document]:
    """Every document under ``folder`` (each ``*.json`` a front, its body beside it), in slug
    order; :class:`DocumentSourceError` at the first one that cannot be published, or on two
    files with one slug."""
    if not folder.is_dir():
        raise DocumentSourceError(f"{folder}: not a folder of documents")
    fronts = sorted(p for p in folder.rglob("*.json") if p.is_file())
    if not fronts:
        raise DocumentSourceError(f"{folder}: holds no document (no *.json front)")
    if len(fronts) > MAX_DOCUMENTS:
        raise DocumentSourceError(f"{folder}: {len(fronts):,} files, at most {MAX_DOCUMENTS:,}")
    found: dict[str, tuple[Document, Path]] = {}
    for path in fronts:
        document = read_document(path)
        if document.slug in found:
            raise DocumentSourceError(
                f"{path}: slug {document.slug!r} is also {found[document.slug][1]}'s: rename one"
            )
        found[document.slug] = (document, path)
    return [found[slug][0] for slug in sorted(found)]


#: The model's fields of a document but its body: each a column of ``documents`` of that name.
_INFO_FIELDS = tuple(f.name for f in fields(DocumentInfo))
#: What a list reads: those columns and when the document was stored (not the body).
_SUMMARY_COLUMNS = [documents.c[name] for name in (*_INFO_FIELDS, "updated")]


def _row(document: Document, now: datetime) -> dict[str, Any]:
    """The row of ``document``: its JSON (lists as JSON text), that JSON's digest (an unchanged
    document is not written again), and ``now``."""
    data = document.as_json()
    return data | {
        "experiment": orjson.dumps(data["experiment"]).decode(),
        "tags": orjson.dumps(data["tags"]).decode(),
        "content_hash": hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest(),
        "updated": now,
    }


def _info(row: Any) -> dict[str, Any]:
    """The model's fields but the body, read back from a row :func:`_row` wrote."""
    return {name: getattr(row, name) for name in _INFO_FIELDS} | {
        "experiment": tuple(orjson.loads(row.experiment)),
        "tags": tuple(orjson.loads(row.tags)),
        "date_published": date.fromisoformat(row.date_published) if row.date_published else None,
    }


def query_words(q: str) -> list[str]:
    """The words of a documents search (each must appear), bounded; ValueError says why not."""
    if len(q) > MAX_QUERY:
        raise ValueError(f"q: {len(q)} characters, at most {MAX_QUERY}")
    words = list(dict.fromkeys(w.lower() for w in q.split()))
    if len(words) > MAX_QUERY_WORDS:
        raise ValueError(f"q: {len(words)} words, at most {MAX_QUERY_WORDS}")
    return words


class Documents:
    """The catalogue's documents. Writes bump the ``documents`` generation, so that cached
    answers (pages link a document only when it is held here) notice."""

    def __init__(
        self, engine: Engine, writer: Callable[[], AbstractContextManager[Connection]]
    ) -> None:
        self.engine = engine
        self._writer = writer

    def put(self, batch: Sequence[Document], *, now: datetime | None = None) -> DocumentsResult:
        """Create or update ``batch`` in one transaction (all or nothing); a document equal to
        the stored one is left as it is."""
        now = now or datetime.now(UTC)
        result = DocumentsResult()
        slugs = [d.slug for d in batch]
        if len(set(slugs)) != len(slugs):
            raise ValueError("a batch of documents names one slug twice")
        for document in batch:
            if not DOCUMENT_SLUG.match(document.slug) or document.type not in DOCUMENT_TYPES:
                raise ValueError(f"document {document.slug[:80]!r}: not a valid document")
        with self._writer() as conn:
            stored: dict[str, str] = {}
            for start in range(0, len(slugs), 500):
                chunk = slugs[start : start + 500]
                query = select(documents.c.slug, documents.c.content_hash).where(
                    documents.c.slug.in_(chunk)
                )
                stored.update((row.slug, row.content_hash) for row in conn.execute(query))
            for document in batch:
                row = _row(document, now)
                if document.slug not in stored:
                    conn.execute(insert(documents).values(row))
                    result.created.append(document.slug)
                elif stored[document.slug] != row["content_hash"]:
                    conn.execute(
                        update(documents).where(documents.c.slug == document.slug).values(row)
                    )
                    result.updated.append(document.slug)
                else:
                    result.unchanged.append(document.slug)
            if result.created or result.updated:
                conn.execute(
                    update(generations)
                    .where(generations.c.name == "documents")
                    .values(value=generations.c.value + 1)
                )
        return result

    def get(self, slug: str) -> StoredDocument | None:
        if len(slug) > 200 or not DOCUMENT_SLUG.match(slug):
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(documents).where(documents.c.slug == slug)).first()
        if row is None:
            return None
        return StoredDocument(Document(**_info(row), body=row.body), row.updated)

    def slugs(self) -> frozenset[str]:
        with self.engine.connect() as conn:
            return frozenset(conn.execute(select(documents.c.slug)).scalars())

    def list(
        self, *, q: str = "", experiment: str | None = None, type: str | None = None
    ) -> list[DocumentSummary]:
        """The documents matching every word of ``q`` (in the title, description or body,
        ignoring case), of ``experiment`` and ``type`` if given: those whose title holds the
        words first, then news newest first, then by title."""
        words = query_words(q)
        query = select(*_SUMMARY_COLUMNS)
        if type is not None:
            query = query.where(documents.c.type == type)
        for word in words:
            query = query.where(
                or_(
                    *(
                        func.lower(column).contains(word, autoescape=True)
                        for column in (documents.c.title, documents.c.description, documents.c.body)
                    )
                )
            )
        with self.engine.connect() as conn:
            found = [
                DocumentSummary(**_info(row), updated=row.updated) for row in conn.execute(query)
            ]
        if experiment is not None:
            # Experiments are a JSON list in one column: a few hundred rows, filtered here.
            wanted = experiment.lower()
            found = [d for d in found if wanted in (e.lower() for e in d.experiment)]

        def order(d: DocumentSummary) -> tuple[bool, int, str]:
            in_title = all(w in d.title.lower() for w in words)
            newest = -(d.date_published.toordinal() if d.date_published else 0)
            return (not in_title, newest, d.title.lower())

        return sorted(found, key=order)

    def experiments(self) -> dict[str, int]:
        """How many documents each experiment has."""
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            for value in conn.execute(select(documents.c.experiment)).scalars():
                for name in orjson.loads(value):
                    counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items()))
