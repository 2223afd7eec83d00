"""Generations: counters that change whenever what they name changes (the replicas' states),
so that caches of answers can tell they are out of date with one cheap read.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "generations",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(table, [{"name": "replicas", "value": 0}])


def downgrade() -> None:
    op.drop_table("generations")
