"""the blind index of searchable fields

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


# Keyed digests only: the key is derived from the installation key, which never is in the database.
# The table starts empty: `tracker rebuild` fills it for the cases recorded before.
def upgrade() -> None:
    op.create_table(
        "search_tokens",
        sa.Column("digest", sa.LargeBinary(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("field", sa.String(length=80), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("digest", "case_id", "event_id", "field", name=op.f("pk_search_tokens")),
    )
    op.create_index("ix_search_tokens_case_id_event_id", "search_tokens", ["case_id", "event_id"])
    op.create_index("ix_case_status_pseudonym_key_case_id", "case_status", ["pseudonym_key", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_status_pseudonym_key_case_id", table_name="case_status")
    op.drop_index("ix_search_tokens_case_id_event_id", table_name="search_tokens")
    op.drop_table("search_tokens")
