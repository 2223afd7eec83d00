"""The search index's fields: what each record becomes in tantivy, and how queries name them."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import tantivy

from openhep.model import RecordData, parse_release_date

#: Bumped whenever the fields below or what a record puts in them change: an index of another
#: version is wiped when it is opened and rebuilt from the catalogue by the first sync.
#: 4: free text covers every field of the record (was: a dozen), ranked by SUMMARY and TITLE.
SCHEMA_VERSION = 4

#: Full-text fields (tantivy's "default" tokenizer: split on non-alphanumerics, lower-cased).
TEXT = "text"  # the catch-all that free words search: every string of the record (FREE_TEXT)
TITLE = "title"
SUMMARY = "summary"  # the FREE_TEXT_SUMMARY fields' strings: a match there ranks above the rest
#: The whole record as JSON, tokenised like TEXT, so that any ``a.b.c:value`` path is searchable.
METADATA = "metadata"

#: Exact-value fields (raw tokenizer, fast): facets, filters and lookups.
KEYWORD_FIELDS = (
    "recid",
    "doi",  # lower-cased: DOIs are case-insensitive
    "type",
    "subtype",  # "Dataset::Collision": nests under its type in facet counts
    "subtype_name",  # "Collision": what CODP's subtype= filter sends
    "experiment",
    "availability",
    "file_type",
    "collision_type",
    "collision_energy",
    "category",
    "subcategory",  # "Physics::Higgs"
    "subcategory_name",  # "Higgs"
    "signature",
    "keywords",
    "magnet_polarity",
    "stripping_stream",
    "stripping_version",
    "tags",
    "collections",
    "title_sort",  # lower-cased title + NUL + zero-padded recid: unique, so a sort key
)

#: Numeric fields (unsigned, fast, indexed): ranges, buckets and sort keys.
NUMERIC_FIELDS = (
    "recid_num",
    "year",  # every year of date_created
    "published_year",
    "number_events",
    "mostrecent_key",  # (days since 1900 of date_published) << 40 | recid: unique
    # title_sort's characters 1-11, 12-22, ... as numbers: a coarser order (title_sort_keys)
    *(f"title_key_{level}" for level in range(1, 7)),
    "visible_from",  # seconds since the epoch; a record is public when this is ≤ now
)

#: The stored copy of the record's JSON (the index answers searches without the catalogue).
SOURCE = "source"
#: Stored timestamps of the record (ISO 8601).
CREATED = "created"
UPDATED = "updated"


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field(TEXT, tokenizer_name="default", index_option="position")
    builder.add_text_field(TITLE, tokenizer_name="default", index_option="position")
    builder.add_text_field(SUMMARY, tokenizer_name="default", index_option="position")
    builder.add_json_field(METADATA, tokenizer_name="default", index_option="position", fast=True)
    for name in KEYWORD_FIELDS:
        builder.add_text_field(name, tokenizer_name="raw", fast=True, stored=name == "recid")
    for name in NUMERIC_FIELDS:
        builder.add_unsigned_field(name, fast=True, indexed=True)
    builder.add_bytes_field(SOURCE, stored=True, indexed=False)
    builder.add_text_field(CREATED, stored=True, tokenizer_name="raw")
    builder.add_text_field(UPDATED, stored=True, tokenizer_name="raw")
    return builder.build()


# -- how query fields map onto index fields ----------------------------------------------------

#: ``field:value`` names that mean another record path (CODP users write ``type:Dataset``).
PATH_ALIASES = {
    "type": "type.primary",
    "subtype": "type.secondary",
    "energy": "collision_information.energy",
    "collision_energy": "collision_information.energy",
    "collision_type": "collision_information.type",
    "category": "categories.primary",
    "subcategory": "categories.secondary",
    "number_events": "distribution.number_events",
    "file_type": "distribution.formats",
}


@dataclass(frozen=True, slots=True)
class FieldTarget:
    """Where a query's ``field:`` goes: a text field, an exact field, a number, or a JSON path."""

    kind: str  # "text" | "keyword" | "numeric" | "json"
    field: str  # the index field (for "json": "metadata.<path>")
    lowercase: bool = False  # for "keyword": compare lower-cased (doi)


_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*){0,7}$")


def field_target(name: str) -> FieldTarget | None:
    """The index field a query's ``name:`` searches, or ``None`` if ``name`` is not a field path."""
    if name == TITLE:
        return FieldTarget("text", TITLE)
    if name == "recid":
        return FieldTarget("keyword", "recid")
    if name == "doi":
        return FieldTarget("keyword", "doi", lowercase=True)
    if name in ("year", "published_year"):
        return FieldTarget("numeric", name)
    if name == "date_published":
        return FieldTarget("numeric", "published_year")
    if not _PATH.match(name) or len(name) > 200:
        return None
    return FieldTarget("json", f"{METADATA}.{PATH_ALIASES.get(name, name)}")


#: Numeric fields a range ``[a TO b]`` may name besides JSON paths holding numbers.
RANGE_FIELDS = {"recid": "recid_num", "year": "year", "date_published": "published_year"}


# -- what a record becomes ---------------------------------------------------------------------

_EPOCH_1900 = datetime(1900, 1, 1, tzinfo=UTC)


def facet_values(record: RecordData | Mapping[str, Any]) -> dict[str, list[str]]:
    """The exact values a record shows under each facet and filter."""
    record = RecordData.of(record)
    kind, categories = record.type, record.categories
    collision, distribution, stripping = (
        record.collision_information,
        record.distribution,
        record.stripping,
    )
    return {
        "type": [kind.primary],
        "subtype": [f"{kind.primary}::{s}" for s in kind.secondary],
        "subtype_name": list(kind.secondary),
        "experiment": list(record.experiments),
        "availability": [distribution.availability or "online"],
        "file_type": list(distribution.formats),
        "collision_type": [collision.type] if collision.type else [],
        "collision_energy": [collision.energy] if collision.energy else [],
        "category": [categories.primary] if categories.primary else [],
        "subcategory": [f"{categories.primary}::{s}" for s in categories.secondary],
        "subcategory_name": list(categories.secondary),
        "signature": list(record.signature),
        "keywords": list(record.keywords),
        "magnet_polarity": [record.magnet_polarity] if record.magnet_polarity else [],
        "stripping_stream": [stripping.stream] if stripping and stripping.stream else [],
        "stripping_version": [stripping.version] if stripping and stripping.version else [],
        "tags": list(record.tags),
        "collections": list(record.collections),
    }


# -- what free words search ---------------------------------------------------------------------

# CODP's free text is Elasticsearch's query_string over every field of the record, unboosted.
# Ours searches the same strings, in three tiers that rank a match: the title first, then the
# summary (CODP has no ranking of its own worth copying here: every field weighs the same).
#: The record fields free words search, by tier: every string inside each (lists and nested
#: blocks included), but for the values of LOCATOR_KEYS. Together they are every field of the
#: record model (a test checks it), so a new field needs a decision here.
FREE_TEXT_TITLE = ("title",)
FREE_TEXT_SUMMARY = ("title_additional", "abstract", "keywords")
FREE_TEXT_REST = (
    "recid", "doi", "experiment", "type", "accelerator", "categories", "collision_information",
    "distribution", "date_created", "date_published", "date_reprocessed", "release_date",
    "run_period", "run_numbers", "methodology", "usage", "validation", "note", "pileup",
    "use_with", "system_details", "authors", "collaboration", "publisher", "license",
    "collections", "tags", "signature", "relations", "dataset_semantics",
    "dataset_semantics_files", "cross_section", "links", "source_code_repository",
    "cms_confdb_id", "magnet_polarity", "stripping", "language", "prepublication", "files",
)  # fmt: skip
FREE_TEXT = (*FREE_TEXT_TITLE, *FREE_TEXT_SUMMARY, *FREE_TEXT_REST)
#: Keys whose values locate rather than describe (file URIs, web addresses, checksums): their
#: words (root, eospublic, https, adler32, …) are in nearly every record, so free words leave
#: them out; ``files.uri:…`` and the like still search them.
LOCATOR_KEYS = frozenset({"uri", "url", "checksum"})
#: Blocks' ``description``s are HTML: free words search their text, not their tags.
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def _strings(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, str):
        if key == "description" and ("<" in value or "&" in value):
            value = html.unescape(_TAG.sub(" ", value))
        yield value
    elif isinstance(value, dict):
        for name, item in value.items():
            if name not in LOCATOR_KEYS:
                yield from _strings(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)


def free_text(record: Mapping[str, Any], fields: tuple[str, ...] = FREE_TEXT) -> list[str]:
    """The strings of ``fields`` of ``record`` that free words search, each a value apart
    (a phrase never spans two)."""
    return [text for name in fields for text in _strings(record.get(name), name) if text]


#: title_key's alphabet: bytes in order, each class one symbol. Classes of one byte (space,
#: ``-./_```, digits, letters) keep everything after them apart; a character of a wider class
#: ends the key, which is what keeps the numbers in string order.
_TITLE_KEY_CLASSES = (
    (0x00, 0x1F), (0x20, 0x20), (0x21, 0x2C), (0x2D, 0x2D), (0x2E, 0x2E), (0x2F, 0x2F),
    *((b, b) for b in range(0x30, 0x3A)), (0x3A, 0x5E), (0x5F, 0x5F), (0x60, 0x60),
    *((b, b) for b in range(0x61, 0x7B)), (0x7B, 0xFF),
)  # fmt: skip
_TITLE_KEY_BASE = len(_TITLE_KEY_CLASSES)  # 46: 11 characters fit in 64 bits
_TITLE_KEY_CHARS = 11
#: The title_key_N fields, in order: each orders the records the ones before it leave tied.
TITLE_KEYS = tuple(f"title_key_{level}" for level in range(1, 7))
_TITLE_SYMBOLS = bytes(
    next(i for i, (low, high) in enumerate(_TITLE_KEY_CLASSES) if low <= b <= high)
    for b in range(256)
)
_TITLE_KEY_STOPS = frozenset(i for i, (low, high) in enumerate(_TITLE_KEY_CLASSES) if low < high)


def title_sort_keys(title_sort: str) -> list[int]:
    """Numbers (one per ``TITLE_KEYS`` field) that never order two titles against ``title_sort``.

    Key *n* stands for characters 11(n-1)+1 to 11n. Sorting by key 1, then key 2 among equal
    key 1, …, then by ``title_sort`` among equal keys, is the string order; tantivy sorts a
    number far faster than a string, above all past an offset. After a character of a class
    of several bytes the keys end (zeros): their order would contradict the string's.
    """
    symbols = title_sort.encode()[: _TITLE_KEY_CHARS * len(TITLE_KEYS)].translate(_TITLE_SYMBOLS)
    keys: list[int] = []
    for start in range(0, _TITLE_KEY_CHARS * len(TITLE_KEYS), _TITLE_KEY_CHARS):
        key, used, stopped = 0, 0, False
        for symbol in symbols[start : start + _TITLE_KEY_CHARS]:
            key = key * _TITLE_KEY_BASE + symbol
            used += 1
            if symbol in _TITLE_KEY_STOPS:
                stopped = True
                break
        keys.append(key * _TITLE_KEY_BASE ** (_TITLE_KEY_CHARS - used))
        if stopped or used < _TITLE_KEY_CHARS:
            keys += [0] * (len(TITLE_KEYS) - len(keys))
            break
    return keys


def title_sort_value(title: str, recid: str) -> str:
    """The unique sort key of title order: lower-cased title, NUL, zero-padded recid."""
    return f"{title.lower()}\x00{int(recid):012d}"


def to_document(
    record: RecordData | Mapping[str, Any],
    created: datetime,
    updated: datetime,
    visible_from: datetime,
) -> tantivy.Document:
    """The index document of one record (its current version): its view or its JSON."""
    record = RecordData.of(record)
    doc = tantivy.Document()
    recid = record.recid
    doc.add_text("recid", recid)
    doc.add_text(TITLE, record.title)
    for text in free_text(record.json):
        doc.add_text(TEXT, text)
    for text in free_text(record.json, FREE_TEXT_SUMMARY):
        doc.add_text(SUMMARY, text)
    source = orjson.dumps(record.json)
    doc.add_json(METADATA, source.decode())
    if record.doi:
        doc.add_text("doi", record.doi.lower())
    for name, values in facet_values(record).items():
        for value in values:
            doc.add_text(name, value)
    title_sort = title_sort_value(record.title, recid)
    doc.add_text("title_sort", title_sort)
    for name, key in zip(TITLE_KEYS, title_sort_keys(title_sort), strict=True):
        doc.add_unsigned(name, key)
    doc.add_unsigned("recid_num", int(recid))
    for year in record.years:
        doc.add_unsigned("year", year)
    published = parse_release_date(record.date_published)
    doc.add_unsigned("published_year", published.year)
    if record.distribution.number_events is not None:
        doc.add_unsigned("number_events", record.distribution.number_events)
    days = max((published - _EPOCH_1900).days, 0)
    doc.add_unsigned("mostrecent_key", (days << 40) | int(recid))
    doc.add_unsigned("visible_from", max(int(visible_from.timestamp()), 0))
    doc.add_bytes(SOURCE, source)
    doc.add_text(CREATED, created.isoformat())
    doc.add_text(UPDATED, updated.isoformat())
    return doc
