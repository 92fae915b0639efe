"""a user's own time zone

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


# NULL: the organization's TIME_ZONE. Only ADD/DROP COLUMN (native on SQLite too): a batch copy of
# `users` would have to drop a table that api_tokens and recovery_codes point at.
def upgrade() -> None:
    op.add_column("users", sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "time_zone")
