"""The catalogue's tables: records, their versions, files, file indices, the change log,
replicas, pending writes, tokens and documentation pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """A UTC instant, stored naive (SQLite has no time zones) and read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("catalogue timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if isinstance(value, datetime) else None


# The current state of each record: the columns public reads and statistics filter on.
records = Table(
    "records",
    metadata,
    Column("recid", String(12), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("doi", String(256), nullable=True, unique=True),
    Column("title", Text, nullable=False),
    Column("type_primary", String(200), nullable=False),
    Column("type_secondary", Text, nullable=False),  # JSON list
    Column("experiment", Text, nullable=False),  # JSON list
    Column("visible_from", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index("ix_records_visible_from", "visible_from"),
)

# Every version ever stored; an update adds version n+1 and never rewrites an older one.
record_versions = Table(
    "record_versions",
    metadata,
    Column("recid", String(12), ForeignKey("records.recid"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("metadata_json", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("created", UTCDateTime, nullable=False),
)

# The files of each record's current version, in record order.
files = Table(
    "files",
    metadata,
    Column("recid", String(12), ForeignKey("records.recid"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("key", Text, nullable=False),
    Column("uri", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("checksum", String(80), nullable=False),
    Column("type", String(64), nullable=True),
    Index("ix_files_uri", "uri"),
)

# The expanded contents of a record's file indices (files of type index.json / index.txt).
file_index_entries = Table(
    "file_index_entries",
    metadata,
    Column("recid", String(12), ForeignKey("records.recid"), primary_key=True),
    Column("index_key", Text, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("uri", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("checksum", String(80), nullable=False),
    Index("ix_file_index_entries_uri", "uri"),
)

# One row per change, numbered monotonically: derived indexes follow it by ``seq``.
changelog = Table(
    "changelog",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("recid", String(12), nullable=False),
    Column("version", Integer, nullable=False),
    Column("operation", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    sqlite_autoincrement=True,
)

# The files this instance holds in its store (a replica per store path), and their fixity state.
replicas = Table(
    "replicas",
    metadata,
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("checksum", String(80), nullable=False),  # adler32:%08x
    Column("sha256", String(80), nullable=True),  # sha256:<hex>
    Column("state", String(16), nullable=False),  # available | corrupt
    Column("stored_at", UTCDateTime, nullable=False),
    Column("checked_at", UTCDateTime, nullable=True),
    Column("detail", Text, nullable=True),
)

# The files an older version of a record names (in ``files[]`` or in a file index) that its
# current version no longer does: a version keeps naming its bytes, so they stay served.
former_files = Table(
    "former_files",
    metadata,
    Column("recid", String(12), ForeignKey("records.recid"), primary_key=True),
    Column("uri", Text, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("checksum", String(80), nullable=False),
    Column("version", Integer, nullable=False),  # the last version that named it
    Index("ix_former_files_uri", "uri"),
)

# The journal of writes to the store that no record names yet: a row is committed before the
# first byte of its path is written and removed in the transaction that names the file (or
# once its bytes are gone), so what a killed writer left can be found and removed.
pending_writes = Table(
    "pending_writes",
    metadata,
    Column("path", String(1024), primary_key=True),
    Column("operation", String(64), nullable=False),  # one add, upload or file index
    Column("written", BigInteger, nullable=False),  # bytes written, as of ``alive_at``
    Column("writer", Text, nullable=False),  # who writes: a JSON object (see storage)
    Column("started_at", UTCDateTime, nullable=False),
    Column("alive_at", UTCDateTime, nullable=False),  # the writer's last sign of life
    Index("ix_pending_writes_operation", "operation"),
)

# Counters bumped in the transaction that changes what they name ("replicas": a replica added,
# removed or changing state), so that caches of answers notice with one cheap read.
generations = Table(
    "generations",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Bearer tokens for the write API; only a sha256 digest of each secret is kept.
tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created", UTCDateTime, nullable=False),
    Column("last_used", UTCDateTime, nullable=True),
    Column("revoked", UTCDateTime, nullable=True),
    sqlite_autoincrement=True,
)

# Documentation and news pages (CODP's ``/docs/<slug>``): instance content, shared by every node.
documents = Table(
    "documents",
    metadata,
    Column("slug", String(80), primary_key=True),
    Column("title", Text, nullable=False),
    Column("type", String(16), nullable=False),  # doc | news
    Column("experiment", Text, nullable=False),  # JSON list
    Column("tags", Text, nullable=False),  # JSON list
    Column("description", Text, nullable=False),
    Column("body", Text, nullable=False),  # Markdown
    Column("date_published", String(10), nullable=True),  # YYYY-MM-DD
    Column("content_hash", String(64), nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)
