"""Fixtures for the files tests: CODP's record 12341 in a real catalogue (SQLite and
PostgreSQL) and the file service over it and a real store (local and XRootD)."""

from __future__ import annotations

import pytest

from openhep.catalog import Catalog
from openhep.files import FileService
from openhep.storage import Store


@pytest.fixture
def catalog(doublemuparked_catalog: Catalog) -> Catalog:
    return doublemuparked_catalog


@pytest.fixture
def service(catalog: Catalog, store: Store) -> FileService:
    return FileService(catalog, store)
