"""Choosing the backend from the settings: a directory path or ``file://`` URL, or ``root://``."""

from __future__ import annotations

from openhep.settings import Settings
from openhep.storage._store import LocalStore, Store


def open_store(settings: Settings) -> Store:
    url = settings.storage_url
    if url is None:
        return LocalStore(settings.home / "files")
    if url.startswith("root://"):
        from openhep.storage._xrootd import XRootDStore

        return XRootDStore(url)
    if url.startswith("file://"):
        return LocalStore(url.removeprefix("file://"))
    if "://" in url:
        raise ValueError(
            f"OPENHEP_STORAGE_URL={url!r}: use a directory, a file:// URL or a root:// URL"
        )
    return LocalStore(url)
