"""Opening a file of events: its location (local path, http(s):// or root:// URL) checked and
bounded, its kind from its name when not given, the reader of that kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from openhep.events._errors import EventFileError
from openhep.events._model import EventSource

#: The longest location accepted.
MAX_LOCATION_LENGTH = 4096
#: Seconds a remote read may wait on the network before it fails.
REMOTE_TIMEOUT = 60.0
#: Bytes fetched per range request of a remote ``.ig`` (a real event entry is 70-190 kB
#: compressed: one or two requests each).
REMOTE_BLOCK_BYTES = 256 << 10
KINDS = ("ig", "nanoaod")


def open_events(location: str, *, kind: str | None = None, tree: str = "Events") -> EventSource:
    """The events of the file at ``location``: ``kind`` "ig" (iSpy) or "nanoaod" (a ROOT
    file's ``tree``), by default from the name's extension (.ig, .root). A location that
    cannot be read as events → EventFileError saying why."""
    if isinstance(location, Path):
        location = str(location)
    if not isinstance(location, str) or not location or len(location) > MAX_LOCATION_LENGTH:
        raise EventFileError(
            f"a file location must be a path or a URL of at most {MAX_LOCATION_LENGTH} characters"
        )
    if "\0" in location:
        raise EventFileError("a file location may not hold a NUL character")
    scheme, path = _split(location)
    shown = _shown(location, scheme, path)
    if kind is None:
        name = path.rsplit("/", 1)[-1].lower()
        if name.endswith(".ig"):
            kind = "ig"
        elif name.endswith(".root"):
            kind = "nanoaod"
        else:
            raise EventFileError(
                f"{shown}: events are read from iSpy (.ig) and NanoAOD (.root) files"
            )
    if kind not in KINDS:
        raise EventFileError(f"kind must be one of {', '.join(KINDS)}, not {str(kind)[:40]!r}")
    if kind == "ig":
        return _open_ig(location, scheme, path, shown)
    from openhep.events._nanoaod import NanoAODSource

    return NanoAODSource(location, scheme, path, shown, tree)


def _split(location: str) -> tuple[str, str]:
    if "://" not in location:
        return "", location
    try:
        parts = urlsplit(location)
    except ValueError as exc:
        raise EventFileError(f"{location[:200]}: not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme == "file":
        return "file", parts.path
    if scheme not in ("root", "http", "https") or not parts.netloc:
        raise EventFileError(
            f"{location[:200]}: only local paths, root:// and http(s):// URLs can be read"
        )
    return scheme, parts.path


def _shown(location: str, scheme: str, path: str) -> str:
    """The location as messages show it: the file's name for a local path (a message must
    not reveal where the portal keeps its files), a URL without credentials or query."""
    if scheme in ("", "file"):
        return path.rsplit("/", 1)[-1][:200]
    parts = urlsplit(location)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"[:300]


def _open_ig(location: str, scheme: str, path: str, shown: str) -> EventSource:
    from openhep.events._ig import IgSource

    if scheme in ("", "file"):
        local = Path(path)
        if not local.is_file():
            raise EventFileError(f"{shown}: no such file")
        return IgSource(str(local), shown)
    handle = _remote(location, scheme, shown)
    try:
        return IgSource(handle, shown)
    except EventFileError:
        handle.close()
        raise


def _remote(location: str, scheme: str, shown: str) -> Any:
    """A seekable file object over the URL: zipfile reads the central directory at the end,
    then each entry, with range requests (HTTP) or XRootD reads."""
    import fsspec

    try:
        if scheme == "root":
            return fsspec.open(location, "rb", timeout=int(REMOTE_TIMEOUT)).open()
        return fsspec.open(
            location,
            "rb",
            block_size=REMOTE_BLOCK_BYTES,
            client_kwargs={"trust_env": False},
        ).open()
    except FileNotFoundError:
        raise EventFileError(f"{shown}: no such file") from None
    except Exception as exc:  # the network's and the servers' errors
        text = str(exc).strip().splitlines()
        raise EventFileError(
            f"{shown}: cannot be read: {(text[0] if text else type(exc).__name__)[:300]}"
        ) from None
