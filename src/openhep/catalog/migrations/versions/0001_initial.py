"""The first catalogue: records, versions, files, file index entries, change log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openhep.catalog._schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("recid", sa.String(12), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("doi", sa.String(256), nullable=True, unique=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("type_primary", sa.String(200), nullable=False),
        sa.Column("type_secondary", sa.Text, nullable=False),
        sa.Column("experiment", sa.Text, nullable=False),
        sa.Column("visible_from", UTCDateTime, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
    )
    op.create_index("ix_records_visible_from", "records", ["visible_from"])
    op.create_table(
        "record_versions",
        sa.Column("recid", sa.String(12), sa.ForeignKey("records.recid"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("metadata_json", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
    )
    op.create_table(
        "files",
        sa.Column("recid", sa.String(12), sa.ForeignKey("records.recid"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("checksum", sa.String(80), nullable=False),
        sa.Column("type", sa.String(64), nullable=True),
    )
    op.create_index("ix_files_uri", "files", ["uri"])
    op.create_table(
        "file_index_entries",
        sa.Column("recid", sa.String(12), sa.ForeignKey("records.recid"), primary_key=True),
        sa.Column("index_key", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("checksum", sa.String(80), nullable=False),
    )
    op.create_table(
        "changelog",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("recid", sa.String(12), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    for table in ("changelog", "file_index_entries", "files", "record_versions", "records"):
        op.drop_table(table)
