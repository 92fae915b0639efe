"""audit log indexes for the filters by actor and by target

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# The /audit page filters by who acted and on what, newest first, a page at a time: (column, id).
def upgrade() -> None:
    # Plain CREATE INDEX (no batch copy of the table, which would drop its append-only triggers).
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor", "id"], unique=False)
    op.create_index("ix_audit_log_target_id", "audit_log", ["target", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_target_id", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_id", table_name="audit_log")
