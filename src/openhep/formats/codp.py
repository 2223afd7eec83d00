"""Records in the JSON shapes the CERN Open Data Portal's API gives (and its client reads)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from openhep.model import file_key, index_key_of, is_index_file


def file_entry(file: Mapping[str, Any]) -> dict[str, Any]:
    """A file as CODP lists it: its record fields plus ``key``."""
    return {**file, "key": file_key(file)}


def _index_key(name: str) -> str:
    """An index's key: its file name without ``.json``/``.txt`` (``x_file_index``)."""
    return index_key_of(name) or name


def file_indices(
    entries: list[dict[str, Any]], files: Sequence[Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """``_file_indices``: per index, its key (file name without extension), files and totals.

    ``entries`` are catalogue rows of ``file_index_entries`` (index_key, uri, size, checksum).
    Given the record's ``files``, only the indices it still lists are shown, in its order and
    with the description of their index files.
    """
    by_index: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        by_index[_index_key(entry["index_key"])].append(entry)
    order = list(by_index)
    descriptions: dict[str, str] = {}
    if files is not None:
        named = [f for f in files if is_index_file(f)]
        order = list(dict.fromkeys(_index_key(file_key(f)) for f in named))
        for f in named:
            if f.get("description"):
                descriptions.setdefault(_index_key(file_key(f)), str(f["description"]))
    out = []
    for index_key in order:
        rows = by_index.get(index_key)
        if not rows:
            continue
        listed = [
            {"checksum": r["checksum"], "key": file_key(r), "size": r["size"], "uri": r["uri"]}
            for r in rows
        ]
        index: dict[str, Any] = {}
        if index_key in descriptions:
            index["description"] = descriptions[index_key]
        index |= {
            "files": listed,
            "key": index_key,
            "number_files": len(listed),
            "size": sum(f["size"] for f in listed),
        }
        out.append(index)
    return out


def file_index_listing(
    files: list[dict[str, Any]], entries: list[dict[str, Any]], name: str
) -> tuple[str, list[dict[str, Any]]] | None:
    """What ``/record/<recid>/file_index/<name>`` serves: (``json``/``txt``, the files listed).

    ``name`` is an index file's key (``x_file_index.json`` or ``.txt``) or the index's key
    without extension, which means its ``.json``. None if the record lists no such index or
    its contents are not known here.
    """
    stem, dot, extension = name.rpartition(".")
    if dot and extension in ("json", "txt"):
        key, kind = stem, extension
    else:
        key, kind = name, "json"
    if not any(is_index_file(f) and _index_key(file_key(f)) == key for f in files):
        return None
    for index in file_indices(entries, files):
        if index["key"] == key:
            return kind, index["files"]
    return None


def _metadata(
    metadata: dict[str, Any],
    *,
    skip_files: bool,
    indices: list[dict[str, Any]] | None = None,
    availability: Sequence[str] = (),
) -> dict[str, Any]:
    shaped = dict(metadata)
    shaped["recid"] = str(metadata["recid"])
    if skip_files:
        shaped.pop("files", None)
        return shaped
    if "files" in metadata:
        shaped["files"] = [file_entry(f) for f in metadata["files"]]
        if len(availability) == len(shaped["files"]):
            for entry, state in zip(shaped["files"], availability, strict=True):
                entry["availability"] = state
    if indices:
        shaped["_file_indices"] = indices
    return shaped


def _envelope(
    metadata: dict[str, Any], *, created: str, updated: str, base_url: str
) -> dict[str, Any]:
    recid = metadata["recid"]
    links = {"self": f"{base_url}/api/records/{recid}", "html": f"{base_url}/record/{recid}"}
    return {
        "id": recid,
        "created": created,
        "updated": updated,
        "metadata": metadata,
        "links": links,
    }


def api_record(
    metadata: dict[str, Any],
    *,
    created: str,
    updated: str,
    version: int,
    base_url: str,
    index_entries: list[dict[str, Any]] | None = None,
    skip_files: bool = False,
    availability: Sequence[str] = (),
) -> dict[str, Any]:
    """``GET /api/records/<recid>``: ``{"id", "created", "updated", "metadata", "links"}``.

    ``availability`` (one per file) adds each file's ``availability``: ``online``, ``remote``
    (only at its URI) or ``corrupt``.
    """
    indices = file_indices(index_entries or [], metadata.get("files", []))
    shaped = _metadata(metadata, skip_files=skip_files, indices=indices, availability=availability)
    return _envelope(shaped, created=created, updated=updated, base_url=base_url) | {
        "revision": version
    }


def search_hit(
    metadata: dict[str, Any], *, created: str, updated: str, base_url: str, skip_files: bool
) -> dict[str, Any]:
    """One hit of ``GET /api/records/``."""
    shaped = _metadata(metadata, skip_files=skip_files)
    return _envelope(shaped, created=created, updated=updated, base_url=base_url)
