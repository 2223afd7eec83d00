"""An index on the URIs file indices list: is a file of a public record? (served or not).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_file_index_entries_uri", "file_index_entries", ["uri"])


def downgrade() -> None:
    op.drop_index("ix_file_index_entries_uri", "file_index_entries")
