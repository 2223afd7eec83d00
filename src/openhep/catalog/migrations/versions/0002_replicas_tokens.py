"""Replicas (the files this instance holds, with their fixity state) and write-API tokens.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openhep.catalog._schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replicas",
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("checksum", sa.String(80), nullable=False),
        sa.Column("sha256", sa.String(80), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("stored_at", UTCDateTime, nullable=False),
        sa.Column("checked_at", UTCDateTime, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("last_used", UTCDateTime, nullable=True),
        sa.Column("revoked", UTCDateTime, nullable=True),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("tokens")
    op.drop_table("replicas")
