"""Documents: CODP's documentation and news pages (``/docs/<slug>``), held in the catalogue so
that every node sharing it serves the same pages; a generation counts their changes.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("slug", sa.String(80), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("experiment", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("date_published", sa.String(10), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("updated", sa.DateTime, nullable=False),
    )
    generations = sa.table(
        "generations", sa.column("name", sa.String), sa.column("value", sa.BigInteger)
    )
    op.bulk_insert(generations, [{"name": "documents", "value": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM generations WHERE name = 'documents'")
    op.drop_table("documents")
