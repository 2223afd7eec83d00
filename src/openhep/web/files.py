"""Downloading files: ``/eos/opendata/<path>`` (CODP's layout) and ``/record/<recid>/files/<key>``.

Both answer GET and HEAD with ``Content-Length``, ``ETag``, ``Last-Modified``, ``Digest`` and
``Accept-Ranges``; ``Range`` (one or several ranges), ``If-Range``, ``If-None-Match`` and
``If-Modified-Since`` as RFC 9110 has them. A path that could leave the store (``..``, an
encoded slash or backslash, a symlink out of it) answers 404 like any missing file, and is
logged with the client's address.

Other people's bytes never run as script here: every answer carries ``X-Content-Type-Options:
nosniff``, the sandboxing ``Content-Security-Policy`` of :mod:`openhep.web._security` and a
``Content-Disposition`` naming the key (RFC 6266); the type comes from the key's extension
(:data:`CONTENT_TYPES`, never HTML or SVG) and only :data:`INLINE_TYPES` are shown in place,
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
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from openhep.catalog import RecordNotFoundError
from openhep.storage import FileService, RemoteFile, ServedFile, UnsafePathError
from openhep.web._deps import RECID, portal
from openhep.web._ranges import (
    RangeNotSatisfiableError,
    StoredFileResponse,
    Validators,
    byte_ranges,
    digest_header,
    http_date,
)
from openhep.web._security import STORED_BYTES_HEADERS

router = APIRouter(tags=["files"])
logger = logging.getLogger("openhep.web.files")
T = TypeVar("T")

#: ``/eos/opendata/<path>`` maps to this store path prefix (the default prefix rule's).
EOS_STORE_PREFIX = "eos/opendata/"

#: Percent-encoded ``/``, ``\`` or NUL: a name that smuggles a separator past the router.
_ENCODED_SEPARATOR = re.compile(rb"%(2f|5c|00)", re.IGNORECASE)

#: Content types by file-name extension; anything else is ``application/octet-stream``. The
#: type is the key's alone (never sniffed from the bytes, and ``nosniff`` tells browsers not to
#: either). HTML, XHTML and SVG are left out on purpose: a stored file is never served as a
#: type a browser runs as a page.
CONTENT_TYPES = {
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "log": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "py": "text/x-python; charset=utf-8",
    "c": "text/plain; charset=utf-8",
    "cc": "text/plain; charset=utf-8",
    "cxx": "text/plain; charset=utf-8",
    "h": "text/plain; charset=utf-8",
    "sh": "text/plain; charset=utf-8",
    "xml": "application/xml",
    "ipynb": "application/x-ipynb+json",
    "pdf": "application/pdf",
    "zip": "application/zip",
    "ig": "application/zip",
    "gz": "application/gzip",
    "tgz": "application/gzip",
    "tar": "application/x-tar",
    "h5": "application/x-hdf5",
    "parquet": "application/vnd.apache.parquet",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: The types a browser may show in place (``Content-Disposition: inline``): text it draws as
#: text and raster images, none of which can hold script a browser runs. Everything else is
#: an attachment (saved, never opened as a page of the portal): XML (XHTML in an ``.xml`` runs
#: its script), PDF (viewers run PDF JavaScript; the ``sandbox`` policy blocks Chromium's
#: viewer anyway), notebooks, archives and data. docs/security.md gives the reasons.
INLINE_TYPES = frozenset(
    {
        "text/plain; charset=utf-8",
        "text/csv; charset=utf-8",
        "text/markdown; charset=utf-8",
        "text/x-python; charset=utf-8",
        "application/json",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
    }
)

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


def content_type(name: str) -> str:
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return CONTENT_TYPES.get(extension, DEFAULT_CONTENT_TYPE)


def attachment(name: str, kind: str = "attachment") -> str:
    """``Content-Disposition`` for a download named ``name`` (RFC 6266, any characters): an
    ASCII ``filename`` for old clients and the exact name, UTF-8, in ``filename*`` (RFC 8187)."""
    fallback = re.sub(r"[^A-Za-z0-9!#$&+.^_`|~ -]", "_", name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def disposition(name: str) -> str:
    """How a file named ``name`` is served: shown in place when its type is one of
    :data:`INLINE_TYPES`, else an attachment; under its name either way."""
    return attachment(name, "inline" if content_type(name) in INLINE_TYPES else "attachment")


def stored_bytes_headers(name: str, *, download: bool = False) -> dict[str, str]:
    """The headers of an answer holding stored bytes named ``name`` (a file, a file index):
    no sniffing, the sandboxing policy, and its disposition (``download``: an attachment)."""
    shown = attachment(name) if download else disposition(name)
    return {**STORED_BYTES_HEADERS, "content-disposition": shown}


def _refuse(request: Request, reason: str) -> HTTPException:
    client = request.client.host if request.client else "unknown client"
    raw = request.scope.get("raw_path") or str(request.scope.get("path", "")).encode()
    logger.warning(
        "refused unsafe file path from %s: %s (%s)", client, raw.decode("latin-1"), reason
    )
    return HTTPException(404, "there is no such file here")


def _find(request: Request, lookup: Callable[[FileService], T]) -> T:
    """What ``lookup`` finds in the files service, or the HTTP answer for why it cannot."""
    raw = request.scope.get("raw_path") or b""
    if _ENCODED_SEPARATOR.search(raw):
        raise _refuse(request, "an encoded '/', '\\' or NUL")
    try:
        return lookup(portal(request).files)
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
        reader = _find(request, lambda files: files.reader(served))
    return StoredFileResponse(
        reader,
        name=served.path,
        size=served.size,
        ranges=ranges,
        media_type=content_type(name),
        headers=headers,
        adler32_hex=served.adler32_hex,
        on_mismatch=lambda detail: portal(request).files.report_corrupt(served.path, detail),
    )


def eos_file(request: Request, path: str) -> Response:
    if not path or path.endswith("/"):
        raise HTTPException(404, "there is no file here: name one (directories are not listed)")
    served = _find(request, lambda files: files.public_file(EOS_STORE_PREFIX + path))
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
    stored = portal(request).catalog.get(recid, version)
    served = _find(request, lambda files: files.record_file(stored, key))
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
