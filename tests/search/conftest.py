"""Fixtures for the search tests: an index of every real CODP record, and a portal over an
empty catalogue (SQLite and PostgreSQL) with an index of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import tantivy

from openhep.catalog import Catalog
from openhep.model import validate_record
from openhep.search._index import SearchIndex
from openhep.search._schema import build_schema, to_document
from openhep.services import Portal


@pytest.fixture(scope="module")
def index(codp_records: list[dict[str, Any]]) -> tantivy.Index:
    """Every real CODP record in an in-memory index (built once per test module)."""
    index = tantivy.Index(build_schema())
    writer = index.writer()
    now = datetime.now(UTC)
    for record in codp_records:
        writer.add_document(to_document(record, now, now, validate_record(record).visible_from()))
    writer.commit()
    index.reload()
    return index


@pytest.fixture
def portal(catalog_url: str, tmp_path: Path) -> Iterator[Portal]:
    """A portal over an empty catalogue, its index under ``tmp_path``."""
    catalog = Catalog.open(url=catalog_url)
    opened = Portal(catalog, SearchIndex(tmp_path / "index"))
    yield opened
    opened.close()
