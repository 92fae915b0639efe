"""case keys name the keyring whose leaf wraps them (erasure that reaches old copies)

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


# Existing rows keep their key as it is: `keyring` NULL means wrapped under the installation key
# alone, which every process still opens. `tracker keys rotate` moves them under the keyring.
def upgrade() -> None:
    op.add_column("case_keys", sa.Column("keyring", sa.String(length=16), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    under = bind.execute(sa.text("SELECT count(*) FROM case_keys WHERE keyring IS NOT NULL")).scalar()
    if under:
        # Without the column these keys would be taken for keys under the installation key alone
        # and never open again; a migration has no keys to re-wrap them with.
        raise RuntimeError(
            f"{under} case keys are wrapped under a keyring; revision 0004 cannot hold them: "
            "restore a backup made before the upgrade instead"
        )
    with op.batch_alter_table("case_keys") as batch:
        batch.drop_column("keyring")
