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
    "OPENHEP_MAX_HEADER_BYTES": "largest request head (request line and headers) openhep serve"
    " reads, in bytes; 431 above it (default: 65536)",
    "OPENHEP_MAX_HEADERS": "most header fields in a request; 431 above it (default: 100)",
    "OPENHEP_MAX_URL_BYTES": "longest request target (path and query), in bytes; 414 above it"
    " (default: 16384)",
    "OPENHEP_MAX_BODY_BYTES": "largest request body of a request that is not an upload, in"
    " bytes; 413 above it (default: 65536; uploads have OPENHEP_MAX_UPLOAD_BYTES)",
    "OPENHEP_HEAD_TIMEOUT_S": "seconds a connection may take to send a whole request head;"
    " it is closed then (default: 10)",
    "OPENHEP_KEEPALIVE_TIMEOUT_S": "whole seconds an idle keep-alive connection is kept open"
    " (default: 5)",
    "OPENHEP_REQUEST_THREADS": "threads each server process answers requests in (they read the"
    " catalogue, the index and files; default: 2)",
    "OPENHEP_MAX_CONNECTIONS": "open connections each server process holds; beyond it the"
    " longest-idle one is closed, or the new one if none is idle (default: 10000, or fewer if"
    " the open-files limit is lower)",
    "OPENHEP_ANALYSIS_WORKERS": "processes a histogram job runs its chunks on (default: one per"
    " CPU)",
    "OPENHEP_DASK_SCHEDULER": "tcp://host:port of a Dask distributed scheduler to send"
    " histogram chunks to instead of local processes (default: none)",
    "OPENHEP_ANALYSIS_TIMEOUT": "seconds a histogram job may run before it is stopped (default:"
    " 300)",
    "OPENHEP_ANALYSIS_CACHE": "where histogram answers are kept by content: on, off or a"
    " directory (default: on, analysis-cache/ in home)",
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
    max_header_bytes: int = 64 << 10
    max_headers: int = 100
    max_url_bytes: int = 16 << 10
    max_body_bytes: int = 64 << 10
    head_timeout_s: float = 10.0
    keepalive_timeout_s: int = 5
    #: None: as many as the open-files limit allows, at most DEFAULT_MAX_CONNECTIONS.
    max_connections: int | None = None
    request_threads: int = 2
    #: None: one analysis worker process per CPU.
    analysis_workers: int | None = None
    #: A Dask scheduler (tcp://host:port) for histogram chunks; None: local processes.
    dask_scheduler: str | None = None
    analysis_timeout: float = 300.0
    #: "on" (analysis-cache/ in home), "off", or a directory.
    analysis_cache: str = "on"

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
            max_header_bytes=_count(env, "OPENHEP_MAX_HEADER_BYTES", 64 << 10, 1024, 16 << 20),
            max_headers=_count(env, "OPENHEP_MAX_HEADERS", 100, 10, 10_000),
            max_url_bytes=_count(env, "OPENHEP_MAX_URL_BYTES", 16 << 10, 256, 16 << 20),
            max_body_bytes=_count(env, "OPENHEP_MAX_BODY_BYTES", 64 << 10, 0, 1 << 40),
            head_timeout_s=_seconds(env, "OPENHEP_HEAD_TIMEOUT_S", 10.0),
            keepalive_timeout_s=_count(env, "OPENHEP_KEEPALIVE_TIMEOUT_S", 5, 1, 3600),
            request_threads=_count(env, "OPENHEP_REQUEST_THREADS", 2, 1, 256),
            max_connections=(
                _count(env, "OPENHEP_MAX_CONNECTIONS", 0, 16, 1 << 24)
                if env.get("OPENHEP_MAX_CONNECTIONS")
                else None
            ),
            analysis_workers=(
                _count(env, "OPENHEP_ANALYSIS_WORKERS", 0, 1, 1024)
                if (env.get("OPENHEP_ANALYSIS_WORKERS") or "").strip()
                else None
            ),
            dask_scheduler=_dask_scheduler(env),
            analysis_timeout=_seconds(env, "OPENHEP_ANALYSIS_TIMEOUT", 300.0),
            analysis_cache=_analysis_cache(env),
        )

    @property
    def catalog_url(self) -> str:
        """The catalogue's SQLAlchemy URL: PostgreSQL if configured, else SQLite under ``home``."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{(self.home / 'catalog.sqlite').resolve()}"

    @property
    def analysis_cache_dir(self) -> Path | None:
        """Where histogram answers are kept (None: the cache is off)."""
        if self.analysis_cache == "off":
            return None
        if self.analysis_cache == "on":
            return self.home / "analysis-cache"
        return Path(self.analysis_cache)

    @property
    def uses_sqlite_file(self) -> bool:
        return self.catalog_url.startswith("sqlite:///")


#: The most connections a server process holds when OPENHEP_MAX_CONNECTIONS is not set.
DEFAULT_MAX_CONNECTIONS = 10_000


def _count(env: Mapping[str, str], name: str, default: int, least: int, most: int) -> int:
    """A whole number setting between ``least`` and ``most``; ``default`` when unset."""
    value = (env.get(name) or "").strip()
    if not value:
        return default
    if not value.isdigit() or not least <= int(value) <= most:
        raise ValueError(f"{name}={value[:40]!r}: give a whole number from {least} to {most}")
    return int(value)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A duration setting in seconds, above 0 and at most an hour; ``default`` when unset."""
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:  # also refuses nan and inf
        raise ValueError(f"{name}={value[:40]!r}: give a number of seconds above 0, at most 3600")
    return seconds


def normalize_database_url(url: str) -> str:
    """Accept libpq-style ``postgresql://`` URLs and route them to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


_DASK_ADDRESS = re.compile(r"^(tcp|tls)://[A-Za-z0-9._\-\[\]:]{1,253}:[0-9]{1,5}$")


def _dask_scheduler(env: Mapping[str, str]) -> str | None:
    value = (env.get("OPENHEP_DASK_SCHEDULER") or "").strip()
    if not value:
        return None
    if not _DASK_ADDRESS.match(value):
        raise ValueError(
            f"OPENHEP_DASK_SCHEDULER={value[:100]!r}: give the scheduler's address as"
            " tcp://host:port (or tls://host:port), or nothing for local processes"
        )
    return value


def _analysis_cache(env: Mapping[str, str]) -> str:
    value = (env.get("OPENHEP_ANALYSIS_CACHE") or "").strip()
    if not value or value.lower() in ("on", "1", "true", "yes"):
        return "on"
    if value.lower() in ("off", "0", "false", "no"):
        return "off"
    if "\0" in value or len(value) > 4096:
        raise ValueError("OPENHEP_ANALYSIS_CACHE: give on, off or a directory")
    return value
