"""The installation key's fingerprint: one row that says which data key this database's cases need."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from tracker.db import Base
from tracker.store.tables import CaseKeyRow


class InstallationKeyRow(Base):
    """The fingerprint of the installation key every new case key is wrapped under (never the key)."""

    __tablename__ = "installation_key"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.CheckConstraint("id = 1", name="one_row"),)


def has_table(session: Session) -> bool:
    """False on a database not yet migrated to the revision that made the table."""
    return sa.inspect(session.connection()).has_table(InstallationKeyRow.__tablename__)


def stored_fingerprint(session: Session) -> str | None:
    return session.scalar(sa.select(InstallationKeyRow.fingerprint).where(InstallationKeyRow.id == 1))


def insert_fingerprint(session: Session, fingerprint: str, now: datetime) -> None:
    """The first fingerprint; IntegrityError when another process stored one first."""
    session.add(InstallationKeyRow(id=1, fingerprint=fingerprint, recorded_at=now))
    session.flush()


def replace_fingerprint(session: Session, fingerprint: str, now: datetime) -> None:
    """After a key rotation: the new key's fingerprint."""
    if stored_fingerprint(session) is None:
        insert_fingerprint(session, fingerprint, now)
        return
    session.execute(
        sa.update(InstallationKeyRow)
        .where(InstallationKeyRow.id == 1)
        .values(fingerprint=fingerprint, recorded_at=now)
    )


def case_key_ids(session: Session) -> set[str]:
    """The ids of the installation keys that wrap the stored case keys."""
    return set(session.scalars(sa.select(CaseKeyRow.kek_id).distinct()))


def keyring_ids(session: Session) -> set[str]:
    """The ids of the keyrings that the stored case keys are wrapped under (none before migration 0007)."""
    columns = sa.inspect(session.connection()).get_columns(CaseKeyRow.__tablename__)
    if not any(c["name"] == "keyring" for c in columns):
        return set()
    query = sa.select(CaseKeyRow.keyring).where(CaseKeyRow.keyring.is_not(None)).distinct()
    return {str(k) for k in session.scalars(query)}
