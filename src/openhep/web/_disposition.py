"""How stored bytes are served: their content type (by the key's extension, never sniffed),
shown in place or saved, and under which name — for files and file indices alike.

Other people's bytes never run as script here: see ``openhep.web.files`` and docs/security.md.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from openhep.web._security import STORED_BYTES_HEADERS

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
