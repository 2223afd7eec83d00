"""Downloading files: ``/eos/opendata/<path>`` (CODP's layout) and ``/record/<recid>/files/<key>``.

Both answer GET and HEAD with ``Content-Length``, ``ETag``, ``Last-Modified``, ``Digest`` and
``Accept-Ranges``; ``Range`` (one or several ranges), ``If-Range``, ``If-None-Match`` and
``If-Modified-Since`` as RFC 9110 has them. A path that could leave the store (``..``, an
encoded slash or backslash, a symlink out of it) answers 404 like any missing file, and is
logged with the client's address.

Other people's bytes never run as script here: every answer carries ``X-Content-Type-Options:
nosniff``, the sandboxing ``Content-Security-Policy`` of :mod:`openhep.web._security` and a
``Content-Disposition`` naming the key (RFC 6266); the type comes from the key's extension
(``_disposition.CONTENT_TYPES``, never HTML or SVG) and only ``INLINE_TYPES`` are shown in place,
on ``/eos/opendata/``. ``/record/<recid>/files/<key>`` is always an attachment.

A file a public record lists that is not held here (or failed its fixity check here) answers
``307 Temporary Redirect`` to its origin (``OPENHEP_FILE_ORIGINS``), with an empty body: never
an error body a client could save as the file. 307 rather than 302: it keeps the method by
definition, where 302 lets a client turn a HEAD into a GET (for GET the two are the same to
requests, curl, browsers and fsspec). Temporary rather than 301/308: the answer changes once
the file is copied here, and a permanent redirect is cached by browsers for good.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from openhep.catalog import RecordNotFoundError
from openhep.files import RemoteFile, ServedFile
from openhep.model import RECID
from openhep.services import Portal
from openhep.storage import UnsafePathError
from openhep.web._deps import portal
from openhep.web._disposition import content_type, stored_bytes_headers
from openhep.web._ranges import (
    RangeNotSatisfiableError,
    StoredFileResponse,
    Validators,
    byte_ranges,
    digest_header,
    http_date,
)
from openhep.web._threads import off_loop_router

router = off_loop_router(tags=["files"])
logger = logging.getLogger("openhep.web.files")
T = TypeVar("T")

#: ``/eos/opendata/<path>`` maps to this store path prefix (the default prefix rule's).
EOS_STORE_PREFIX = "eos/opendata/"

#: Percent-encoded ``/``, ``\`` or NUL: a name that smuggles a separator past the router.
_ENCODED_SEPARATOR = re.compile(rb"%(2f|5c|00)", re.IGNORECASE)

_DESCRIPTION = (
    "GET or HEAD; `Range: bytes=…` (one range: 206 with `Content-Range`; several: 206 "
    "`multipart/byteranges`; none within the file: 416), `If-Range`, `If-None-Match` and "
    "`If-Modified-Since` (304). Headers: `Content-Length`, `ETag`, `Last-Modified`, "
    "`Digest: adler32=…` (RFC 3230), `Accept-Ranges: bytes`, `X-Content-Type-Options: nosniff`, "
    "`Content-Security-Policy: default-src 'none'; sandbox; frame-ancestors 'none'` and "
    "`Content-Disposition` with the file's name (`inline` for plain text, JSON and PNG/JPEG/"
    "GIF/WebP images, else `attachment`). A file a public record lists "
    "that is not held here (or failed its fixity check here) answers 307 with `Location` = its "
    "origin's https address (`OPENHEP_FILE_ORIGINS`) and an empty body; 404 if no public record "
    "lists it or it has no origin, 503 if it failed its fixity check and has no origin."
)


def _refuse(request: Request, reason: str) -> HTTPException:
    client = request.client.host if request.client else "unknown client"
    raw = request.scope.get("raw_path") or str(request.scope.get("path", "")).encode()
    logger.warning(
        "refused unsafe file path from %s: %s (%s)", client, raw.decode("latin-1"), reason
    )
    return HTTPException(404, "there is no such file here")


def _find(request: Request, lookup: Callable[[Portal], T]) -> T:
    """What ``lookup`` finds through the portal, or the HTTP answer for why it cannot."""
    raw = request.scope.get("raw_path") or b""
    if _ENCODED_SEPARATOR.search(raw):
        raise _refuse(request, "an encoded '/', '\\' or NUL")
    try:
        return lookup(portal(request))
    except UnsafePathError as exc:
        raise _refuse(request, str(exc)) from None
    except ConnectionError as exc:
        logger.error("the file store cannot be reached: %s", exc)
        raise HTTPException(503, "the file store cannot be reached now; try again later") from None
    except FileNotFoundError:
        raise HTTPException(404, "there is no such file here (its bytes are missing)") from None
    except OSError as exc:
        logger.error("the file store cannot read %s: %s", request.scope.get("path"), exc)
        raise HTTPException(503, "the file cannot be read from the store now") from None


def _redirect(remote: RemoteFile) -> Response:
    """Where the file is: its origin. No body, so nothing a client can mistake for the file."""
    return Response(status_code=307, headers={"location": remote.url})


def _serve(
    request: Request, served: ServedFile | RemoteFile, name: str | None = None, *, download: bool
) -> Response:
    """``served`` under ``name`` (default: its own), shown in place or as an attachment by its
    type (:func:`disposition`), or always an attachment (``download``)."""
    if isinstance(served, RemoteFile):
        return _redirect(served)
    name = name or served.path.rsplit("/", 1)[-1]
    validators = Validators(served.etag, served.last_modified)
    headers = {
        "accept-ranges": "bytes",
        "etag": served.etag,
        "last-modified": http_date(served.last_modified),
        "digest": digest_header(served.adler32_hex, served.sha256),
        **stored_bytes_headers(name, download=download),
    }
    method = request.method
    status = validators.precondition(method, request.headers)
    if status == 304:
        return Response(status_code=304, headers=headers)
    if status is not None:
        raise HTTPException(status, "the file does not meet If-Match or If-Unmodified-Since")
    ranges = None
    range_header = request.headers.get("range")
    if range_header is not None and validators.if_range_holds(request.headers.get("if-range")):
        try:
            ranges = byte_ranges(range_header, served.size)
        except RangeNotSatisfiableError as exc:
            raise HTTPException(
                416, str(exc), headers={"content-range": f"bytes */{served.size}"}
            ) from None
    reader = None
    if method != "HEAD":
        reader = _find(request, lambda service: service.open_file(served))
    return StoredFileResponse(
        reader,
        name=served.path,
        size=served.size,
        ranges=ranges,
        media_type=content_type(name),
        headers=headers,
        adler32_hex=served.adler32_hex,
        on_mismatch=lambda detail: portal(request).report_corrupt(served.path, detail),
    )


def eos_file(request: Request, path: str) -> Response:
    if not path or path.endswith("/"):
        raise HTTPException(404, "there is no file here: name one (directories are not listed)")
    served = _find(request, lambda service: service.public_file(EOS_STORE_PREFIX + path))
    return _serve(request, served, download=False)


def record_file(
    request: Request,
    recid: str,
    key: str,
    version: Annotated[
        int | None,
        Query(ge=1, le=2**31 - 1, description="A version of the record (default: the current)."),
    ] = None,
) -> Response:
    if not RECID.fullmatch(recid):
        raise RecordNotFoundError(recid[:40])
    # An older version's key may name other bytes than today's: that version's are served.
    served = _find(request, lambda service: service.record_file(recid, key, version))
    return _serve(request, served, key, download=True)


def _add_routes(path: str, endpoint: Callable[..., Response], summary: str, **options: Any) -> None:
    # One route per method: FastAPI gives a route of several methods one operation id.
    for method in ("GET", "HEAD"):
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            summary=summary,
            response_class=Response,
            **options,
        )


_add_routes(
    "/eos/opendata/{path:path}",
    eos_file,
    "A file by its CODP path",
    description="The file whose URI is `root://eospublic.cern.ch//eos/opendata/<path>`. "
    + _DESCRIPTION,
)
# cernopendata-client turns ``root://eospublic.cern.ch//eos/opendata/…`` into
# ``http://SERVER//eos/opendata/…`` (it replaces only the scheme and host): the same file.
_add_routes(
    "//eos/opendata/{path:path}", eos_file, "A file by its CODP path", include_in_schema=False
)
_add_routes(
    "/record/{recid}/files/{key:path}",
    record_file,
    "A record's file by its key",
    description="The file `key` of public record `recid` (of its version `?version=N`, by"
    " default the current one), as an attachment. " + _DESCRIPTION,
)
