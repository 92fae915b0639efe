"""session generation, sealed second-factor secrets, the last TOTP step used, sign-in devices

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


# Only ADD COLUMN (native on SQLite too): a batch copy of `users` would have to drop a table that
# api_tokens and recovery_codes point at.
def upgrade() -> None:
    op.add_column("users", sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False))
    op.add_column("users", sa.Column("totp_secret_sealed", sa.String(length=200), nullable=True))
    op.add_column("users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.add_column("signin_attempts", sa.Column("device", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), for the same reason. A sealed secret cannot be opened here
    # (no installation key): after a downgrade those users enrol their second factor again.
    op.drop_column("signin_attempts", "device")
    op.drop_column("users", "totp_last_step")
    op.drop_column("users", "totp_secret_sealed")
    op.drop_column("users", "session_epoch")
