"""Where each file of a record is downloaded from: here when held and good, else its origin."""

from __future__ import annotations

import re
from urllib.parse import quote

from openhep.model import file_key
from openhep.services import RecordView

_EOS_URI = re.compile(r"^root://[^/]+//eos/opendata/(.+)$")


def eos_path(uri: str) -> str | None:
    """``/eos/opendata/<path>``, where a file of URI ``uri`` is served (CODP's layout)."""
    match = _EOS_URI.match(uri)
    return f"/eos/opendata/{quote(match.group(1))}" if match else None


def download_urls(view: RecordView, root: str, *, current: bool) -> list[tuple[str | None, bool]]:
    """For each of the record's ``files[]``: (the address that serves its bytes or None, whether
    that address is elsewhere, at the file's origin).

    A file held here is ours: ``/record/<recid>/files/<key>`` for the current version, its
    ``/eos/opendata/`` path for an older one (a key may since name other bytes). Any other
    (remote, or corrupt here) is its origin's address, if it has one.
    """
    files = view.stored.metadata.get("files") or []
    count = len(files)
    states = view.availability if len(view.availability) == count else ["remote"] * count
    origins = view.origins if len(view.origins) == count else [None] * count
    out: list[tuple[str | None, bool]] = []
    for file, state, origin in zip(files, states, origins, strict=True):
        if state == "online":
            if current:
                out.append(
                    (f"{root}/record/{view.stored.recid}/files/{quote(file_key(file))}", False)
                )
            else:
                path = eos_path(str(file["uri"]))
                out.append((root + path if path else None, False))
        else:
            out.append((origin, origin is not None))
    return out
