"""installation key fingerprint

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


# One row: the fingerprint (an HMAC under the key, never the key) of the installation data key, so that
# a server started with another key refuses to start instead of writing cases nobody else can read.
def upgrade() -> None:
    op.create_table(
        "installation_key",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_installation_key_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation_key")),
    )


def downgrade() -> None:
    op.drop_table("installation_key")
