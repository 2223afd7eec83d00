"""Former files (what older versions name that the current one no longer does, so they stay
served) and pending writes (the journal of store writes no record names yet).

The former files of records already held are read back from their stored versions'
``files[]``. The contents of file indices replaced before this revision were not kept, so the
files only an earlier index listed cannot be recovered here (they stay in the store; ``openhep
fixity`` keeps every file a replica row names).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from openhep.catalog._schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    former = op.create_table(
        "former_files",
        sa.Column("recid", sa.String(12), sa.ForeignKey("records.recid"), primary_key=True),
        sa.Column("uri", sa.Text, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("checksum", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_former_files_uri", "former_files", ["uri"])
    op.create_table(
        "pending_writes",
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("written", sa.BigInteger, nullable=False),
        sa.Column("writer", sa.Text, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("alive_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_pending_writes_operation", "pending_writes", ["operation"])
    rows = _former_files(op.get_bind())
    for start in range(0, len(rows), 500):
        op.bulk_insert(former, rows[start : start + 500])


def _former_files(conn: sa.Connection) -> list[dict[str, Any]]:
    """For each record with older versions: the files they name that the current one does not."""
    versions = sa.table(
        "record_versions",
        sa.column("recid", sa.String),
        sa.column("version", sa.Integer),
        sa.column("metadata_json", sa.Text),
    )
    records = sa.table("records", sa.column("recid", sa.String), sa.column("version", sa.Integer))
    query = (
        sa.select(versions.c.recid, versions.c.version, versions.c.metadata_json)
        .where(versions.c.recid.in_(sa.select(records.c.recid).where(records.c.version > 1)))
        .order_by(versions.c.recid, versions.c.version.desc())
    )
    found: dict[tuple[str, str], dict[str, Any]] = {}
    current: set[str] = set()
    recid = None
    for row in conn.execute(query):
        files = json.loads(row.metadata_json).get("files") or []
        if row.recid != recid:  # the newest version comes first: the current one
            recid, current = row.recid, {str(f["uri"]) for f in files}
            continue
        for f in files:
            uri = str(f["uri"])
            if uri not in current and (row.recid, uri) not in found:
                found[(row.recid, uri)] = {
                    "recid": row.recid,
                    "uri": uri,
                    "size": int(f["size"]),
                    "checksum": str(f["checksum"]),
                    "version": row.version,
                }
    return list(found.values())


def downgrade() -> None:
    op.drop_index("ix_pending_writes_operation", "pending_writes")
    op.drop_table("pending_writes")
    op.drop_index("ix_former_files_uri", "former_files")
    op.drop_table("former_files")
