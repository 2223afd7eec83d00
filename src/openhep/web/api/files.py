"""``PUT /api/records/<recid>/files/<key>``: add a file to a record (bearer token required).

The body streams into the store through a worker thread (constant memory); size, adler32 and
sha256 are computed while it is written. Nothing changes unless the whole body arrived, its
digests match any ``Digest`` the client announced, and the record could be written.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import anyio
import anyio.from_thread
from fastapi import Header, HTTPException, Path, Query, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from openhep.catalog import CatalogConflictError, PendingWriteLostError, TokenInfo
from openhep.files import AddResult, ChecksumMismatchError, FileKeyError
from openhep.model import RecordValidationError
from openhep.storage import FileTooLargeError, UnsafePathError, file_name
from openhep.web._deps import RecidPath, base_url, json_response, portal
from openhep.web._threads import off_loop_router

router = off_loop_router(prefix="/api/records", tags=["files"])

KeyPath = Annotated[
    str, Path(max_length=255, description="The file's key (its name in the record).")
]


class UploadAborted(Exception):
    """The client went away before the whole body arrived."""


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="openhep"'})


def _expected_checksum(digest: str | None, checksum: str | None) -> str | None:
    """The checksum the client announced: ``?checksum=adler32:…`` or ``Digest: adler32=…``."""
    if checksum:
        kind, _, value = checksum.partition(":")
        if kind == "adler32" and len(value) == 8 and _is_hex(value):
            return f"adler32:{value.lower()}"
        if kind == "sha256" and len(value) == 64 and _is_hex(value):
            return f"sha256:{value.lower()}"
        raise HTTPException(400, "checksum: give adler32:<8 hex digits> or sha256:<64 hex digits>")
    if not digest:
        return None
    for item in digest.split(","):
        algorithm, _, value = item.strip().partition("=")
        algorithm = algorithm.strip().lower()
        if algorithm == "adler32" and len(value) == 8 and _is_hex(value):
            return f"adler32:{value.lower()}"
        if algorithm == "sha-256":
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) == 32:
                return f"sha256:{raw.hex()}"
    raise HTTPException(
        400, "Digest: give adler32=<8 hex digits> or sha-256=<base64 of 32 bytes> (RFC 3230)"
    )


def _is_hex(value: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in value)


async def _authenticate(request: Request, authorization: str | None) -> TokenInfo:
    if not authorization:
        raise _unauthorized("this needs a token: send 'Authorization: Bearer <token>'")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("send the token as 'Authorization: Bearer <token>'")
    info = await anyio.to_thread.run_sync(portal(request).authenticate, secret.strip())
    if info is None:
        raise _unauthorized("the token is unknown or revoked")
    return info


def _body_chunks(stream: AsyncIterator[bytes]) -> Iterator[bytes]:
    """The request body, pulled from the event loop into the worker thread chunk by chunk."""

    async def next_chunk() -> bytes:
        return await stream.__anext__()

    while True:
        try:
            chunk = anyio.from_thread.run(next_chunk)
        except StopAsyncIteration:
            return
        except ClientDisconnect:
            raise UploadAborted from None
        if chunk:
            yield chunk


@router.put(
    # ``path``: a key ending in "/" must reach the handler (and be refused) rather than be
    # redirected by Starlette's slash rule to another key, the body re-sent there.
    "/{recid}/files/{key:path}",
    status_code=201,
    summary="Add a file to a record",
    description=(
        "Streams the body into the store and adds it to the record's `files[]` (a new version; "
        "a file with the same key is replaced). Needs `Authorization: Bearer <token>` "
        "(`openhep token create`). Optional `Digest: adler32=…` / `sha-256=…` or "
        "`?checksum=adler32:…` is verified before anything changes."
    ),
    responses={
        201: {"description": "Stored: the file's entry, with sha256 and the record version"},
        400: {"description": "Bad key, bad or mismatching checksum, incomplete body"},
        401: {"description": "No valid token"},
        404: {"description": "No such record"},
        409: {
            "description": "The record changed during the upload, or the upload went silent for"
            " so long that it was taken for abandoned: retry"
        },
        413: {"description": "Larger than OPENHEP_MAX_UPLOAD_BYTES"},
    },
)
async def put_file(
    request: Request,
    recid: RecidPath,
    key: KeyPath,
    authorization: Annotated[str | None, Header()] = None,
    content_length: Annotated[int | None, Header(ge=0)] = None,
    digest: Annotated[str | None, Header(max_length=500)] = None,
    checksum: Annotated[
        str | None, Query(max_length=80, description="adler32:<hex> or sha256:<hex>")
    ] = None,
    file_type: Annotated[
        str | None,
        Query(alias="type", max_length=64, pattern=r"^[A-Za-z0-9.+_-]+$", description="CODP type"),
    ] = None,
) -> Response:
    if not key or "/" in key:  # as before ``path``: no upload route names a folder
        raise HTTPException(404, "a file key has no '/': no upload route names a folder")
    await _authenticate(request, authorization)
    try:
        key = file_name(key)
    except UnsafePathError as exc:
        raise HTTPException(400, str(exc)) from None
    expected = _expected_checksum(digest, checksum)
    service = portal(request)
    limit = service.max_upload_bytes
    if limit is not None and content_length is not None and content_length > limit:
        raise HTTPException(413, f"the file has {content_length} bytes; the limit is {limit}")

    chunks = _body_chunks(request.stream())

    def store() -> AddResult:
        # In a worker thread: the body is pulled from the event loop chunk by chunk.
        return service.add_file(recid, key, chunks, file_type=file_type, expected=expected)

    try:
        result = await anyio.to_thread.run_sync(store)
    except UploadAborted:
        raise HTTPException(400, "the upload was cut off: nothing was stored") from None
    except FileTooLargeError:
        raise HTTPException(413, f"the file is larger than the limit of {limit} bytes") from None
    except (ChecksumMismatchError, FileKeyError, RecordValidationError) as exc:
        raise HTTPException(400, str(exc)) from None
    except (CatalogConflictError, PendingWriteLostError) as exc:
        raise HTTPException(409, str(exc)) from None
    added = result.files[0]
    body = {
        "recid": result.recid,
        "version": result.version,
        "file": {**added.entry, "sha256": added.digests.sha256},
        "links": {
            "record": f"{base_url(request)}/api/records/{result.recid}",
            "self": f"{base_url(request)}/record/{result.recid}/files/{key}",
        },
    }
    response = json_response(body)
    response.status_code = 201
    return response
