"""Records in the JSON shapes the CERN Open Data Portal's API gives (and its client reads)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from openhep.catalog import file_key


def file_entry(file: dict[str, Any]) -> dict[str, Any]:
    """A file as CODP lists it: its record fields plus ``key``."""
    return {**file, "key": file_key(file)}


def file_indices(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``_file_indices``: each index's key (its file name without extension) and its files.

    ``entries`` are catalogue rows of ``file_index_entries`` (index_key, uri, size, checksum).
    """
    by_index: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        by_index[entry["index_key"]].append(entry)
    out = []
    for index_key, rows in by_index.items():
        files = [
            {"uri": r["uri"], "size": r["size"], "checksum": r["checksum"], "key": file_key(r)}
            for r in rows
        ]
        out.append(
            {
                "key": index_key.rsplit(".", 1)[0] if "." in index_key else index_key,
                "size": sum(f["size"] for f in files),
                "files": files,
            }
        )
    return out


def _metadata(
    metadata: dict[str, Any], *, skip_files: bool, indices: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    shaped = dict(metadata)
    shaped["recid"] = str(metadata["recid"])
    if skip_files:
        shaped.pop("files", None)
        return shaped
    if "files" in metadata:
        shaped["files"] = [file_entry(f) for f in metadata["files"]]
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
) -> dict[str, Any]:
    """``GET /api/records/<recid>``: ``{"id", "created", "updated", "metadata", "links"}``."""
    shaped = _metadata(metadata, skip_files=skip_files, indices=file_indices(index_entries or []))
    return _envelope(shaped, created=created, updated=updated, base_url=base_url) | {
        "revision": version
    }


def search_hit(
    metadata: dict[str, Any], *, created: str, updated: str, base_url: str, skip_files: bool
) -> dict[str, Any]:
    """One hit of ``GET /api/records/``."""
    shaped = _metadata(metadata, skip_files=skip_files)
    return _envelope(shaped, created=created, updated=updated, base_url=base_url)
