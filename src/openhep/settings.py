"""The settings object: the one place OpenHEP reads its environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Every environment variable OpenHEP reads, with its meaning (docs/configuration.md lists them).
ENVIRONMENT = {
    "OPENHEP_HOME": "data directory of this instance (catalogue, index, files)",
    "OPENHEP_DATABASE_URL": "SQLAlchemy or libpq URL of the catalogue (default: SQLite in home)",
    "OPENHEP_STORAGE_URL": "where files are stored: a directory, file:// or root://host//path"
    " URL (default: files/ in home)",
    "OPENHEP_STORAGE_PREFIXES": "comma-separated 'uri-prefix=store-prefix' rules mapping record"
    " file URIs to store paths (default: root://eospublic.cern.ch//eos/opendata/=eos/opendata/)",
    "OPENHEP_FILE_ORIGINS": "comma-separated 'uri-prefix=https-base' rules: where downloads of"
    " files not held here are redirected; an empty origin means none, an empty value turns"
    " redirects off (default: root://eospublic.cern.ch//eos/opendata/=https://opendata.cern.ch"
    "/eos/opendata/,root://eospublic.cern.ch//eos/opendata/openhep/=)",
    "OPENHEP_MAX_UPLOAD_BYTES": "largest file the upload API accepts, in bytes (default: 64 GiB)",
    "OPENHEP_ORIGIN_URL": "the portal the records and docs came from: a link in them to a page"
    " this instance does not serve goes to the same path there, marked external (default:"
    " https://opendata.cern.ch; empty: such links are shown as text)",
    "OPENHEP_ANSWER_CACHE_MB": "memory each server process keeps answers of pages and the record"
    " API in until the catalogue changes, in MiB (default: 64; 0 turns the cache off)",
}


#: CODP, where the records and docs this portal reads come from.
DEFAULT_ORIGIN_URL = "https://opendata.cern.ch"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/-]*)?$")


@dataclass(frozen=True)
class Settings:
    """Where this instance keeps its data. One instance = one data directory (``OPENHEP_HOME``)."""

    home: Path = field(default_factory=lambda: Path("openhep-data"))
    database_url: str | None = None
    storage_url: str | None = None
    storage_prefixes: str | None = None
    #: None: the default origin rules; "" (set but empty): no redirects at all.
    file_origins: str | None = None
    max_upload_bytes: int = 64 << 30
    answer_cache_bytes: int = 64 << 20
    origin_url: str = DEFAULT_ORIGIN_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("OPENHEP_HOME") or "openhep-data")
        max_upload = env.get("OPENHEP_MAX_UPLOAD_BYTES") or ""
        if max_upload and not max_upload.isdigit():
            raise ValueError(f"OPENHEP_MAX_UPLOAD_BYTES={max_upload!r}: give a number of bytes")
        cache_mb = env.get("OPENHEP_ANSWER_CACHE_MB") or ""
        if cache_mb and not (cache_mb.isdigit() and int(cache_mb) <= 1 << 20):
            raise ValueError(
                f"OPENHEP_ANSWER_CACHE_MB={cache_mb!r}: give a number of MiB (0 turns it off)"
            )
        origin = env.get("OPENHEP_ORIGIN_URL", DEFAULT_ORIGIN_URL).strip().rstrip("/")
        if origin and not _ORIGIN.match(origin):
            raise ValueError(
                f"OPENHEP_ORIGIN_URL={origin[:100]!r}: give an http(s) URL such as"
                f" {DEFAULT_ORIGIN_URL}, or nothing"
            )
        return cls(
            home=home,
            origin_url=origin,
            database_url=env.get("OPENHEP_DATABASE_URL") or None,
            storage_url=env.get("OPENHEP_STORAGE_URL") or None,
            storage_prefixes=env.get("OPENHEP_STORAGE_PREFIXES") or None,
            file_origins=env.get("OPENHEP_FILE_ORIGINS"),
            max_upload_bytes=int(max_upload) if max_upload else 64 << 30,
            answer_cache_bytes=(int(cache_mb) if cache_mb else 64) << 20,
        )

    @property
    def catalog_url(self) -> str:
        """The catalogue's SQLAlchemy URL: PostgreSQL if configured, else SQLite under ``home``."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{(self.home / 'catalog.sqlite').resolve()}"

    @property
    def uses_sqlite_file(self) -> bool:
        return self.catalog_url.startswith("sqlite:///")


def normalize_database_url(url: str) -> str:
    """Accept libpq-style ``postgresql://`` URLs and route them to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url
