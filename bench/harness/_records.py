"""Reading CODP record files: ``*.json`` and gzipped ``*.json.gz``, each a JSON list of
records or one record, as ``openhep ingest`` reads them."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

SUFFIXES = (".json", ".json.gz")


def record_files(paths: Iterable[Path]) -> list[Path]:
    """The record files named by ``paths``: files as given, each directory's ``*.json`` and
    ``*.json.gz`` (sorted; hidden and ``_``-prefixed entries, such as ``_skeletons``, are no
    records) — the files ``openhep ingest`` would read."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.iterdir()
                if p.is_file() and p.name.endswith(SUFFIXES) and not p.name.startswith((".", "_"))
            )
        elif path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"bench: {path}: no such file or directory")
    return found


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of one file (``.json`` or ``.json.gz``)."""
    raw = path.read_bytes()
    data = orjson.loads(gzip.decompress(raw) if path.name.endswith(".gz") else raw)
    return [data] if isinstance(data, dict) else list(data)


def iter_records(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every record of the record files named by ``paths`` (directories read as above)."""
    for path in record_files(paths):
        yield from read_records(path)
