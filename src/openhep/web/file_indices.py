"""``/record/<recid>/file_index/<key>``: a record's file index as JSON or as a list of URIs."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import HTTPException, Path, Request
from fastapi.responses import Response

from openhep.web._deps import RecidPath, portal
from openhep.web._disposition import stored_bytes_headers
from openhep.web._threads import off_loop_router

router = off_loop_router(tags=["files"])

KeyPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=255,
        description=(
            "The index file's key, `<name>_file_index.json` or `.txt`; without an extension "
            "(the `_file_indices[].key` cernopendata-client links to) the `.json` listing."
        ),
    ),
]


@router.get(
    "/record/{recid}/file_index/{key}",
    summary="A record's file index",
    description=(
        "The files a file index of a public record lists: `.json` gives a JSON list of "
        "`{checksum, key, size, uri}`, `.txt` one URI per line."
    ),
)
def file_index(request: Request, recid: RecidPath, key: KeyPath) -> Response:
    found = portal(request).file_index(recid, key)
    if found is None:
        raise HTTPException(
            404,
            f"record {recid} has no file index {key!r} whose contents are known here;"
            f" its indices are in _file_indices of /api/records/{recid}",
        )
    kind, listed = found
    # The URIs and keys listed are the record's data: served as the files are (shown in place,
    # never as a page), under the index's name with the extension of what it holds.
    name = key if key.endswith(f".{kind}") else f"{key}.{kind}"
    headers = stored_bytes_headers(name)
    if kind == "txt":
        text = "".join(f"{f['uri']}\n" for f in listed)
        return Response(text, media_type="text/plain; charset=utf-8", headers=headers)
    return Response(orjson.dumps(listed), media_type="application/json", headers=headers)
