"""indexes for the merged audit log: case reads and event writes by user and by time

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# /audit reads the access log and the event store newest first by (time, id), filtered by user or by
# days (tracker/services/audit_sources.py); the event picker reads a user's newest events. Plain
# CREATE INDEX: a batch copy of these tables would drop their append-only triggers.
def upgrade() -> None:
    op.create_index("ix_access_log_at_id", "access_log", ["at", "id"], unique=False)
    op.create_index("ix_access_log_username_at_id", "access_log", ["username", "at", "id"], unique=False)
    op.create_index("ix_events_recorded_at_position", "events", ["recorded_at", "position"], unique=False)
    op.create_index(
        "ix_events_recorded_by_recorded_at_position",
        "events",
        ["recorded_by", "recorded_at", "position"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_events_recorded_by_recorded_at_position", table_name="events")
    op.drop_index("ix_events_recorded_at_position", table_name="events")
    op.drop_index("ix_access_log_username_at_id", table_name="access_log")
    op.drop_index("ix_access_log_at_id", table_name="access_log")
