"""Users, API tokens and the access log."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base

ROLES = ("caseworker", "supervisor", "auditor", "admin")


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    # The user's own time zone (an IANA name); None: the organization's TIME_ZONE.
    time_zone: Mapped[str | None] = mapped_column(sa.String(64))
    # Before revision 0005 the secret was kept in clear here; now it is sealed by the installation key
    # (totp_secret_sealed), and a clear one left from before is sealed at its next use.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_secret_sealed: Mapped[str | None] = mapped_column(sa.String(200))
    # The last TOTP time step accepted: a code of that step or an earlier one is never accepted again.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    calendar_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    # Part of every session's identity: raising it ends every session of the user at once.
    session_epoch: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")


class TokenRow(Base):
    """An API token, stored as its SHA-256 (tokens are long random strings)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class AccessRow(Base):
    """One read of a case: who, when, which case, what."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    username: Mapped[str] = mapped_column(sa.String(64))
    case_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    action: Mapped[str] = mapped_column(sa.String(40))
    via: Mapped[str] = mapped_column(sa.String(8))

    # The organization's audit log reads case reads newest first by (at, id), all or one user's.
    __table_args__ = (
        sa.Index("ix_access_log_at_id", "at", "id"),
        sa.Index("ix_access_log_username_at_id", "username", "at", "id"),
    )


class SigninAttemptRow(Base):
    """A sign-in attempt, for the limits. `username` is a keyed digest of what was typed (it may be a
    password); `device` is the id of the browser's signed device cookie for that account, if any."""

    __tablename__ = "signin_attempts"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    username: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str] = mapped_column(sa.String(64))
    success: Mapped[bool] = mapped_column(sa.Boolean)
    device: Mapped[str | None] = mapped_column(sa.String(32))

    __table_args__ = (
        sa.Index("ix_signin_attempts_username_at", "username", "at"),
        sa.Index("ix_signin_attempts_address_at", "address", "at"),
    )


class AuditRow(Base):
    """The organization-wide audit log: sign-ins, user changes, exports, erasures, key rotations."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(40), index=True)
    target: Mapped[str | None] = mapped_column(sa.String(100))
    detail: Mapped[str | None] = mapped_column(sa.Text)
    address: Mapped[str | None] = mapped_column(sa.String(64))

    # The log's filters by who acted and on what read a page newest first: (column, id) serves both.
    __table_args__ = (
        sa.Index("ix_audit_log_actor_id", "actor", "id"),
        sa.Index("ix_audit_log_target_id", "target", "id"),
    )


class RecoveryCodeRow(Base):
    """A one-time second-factor recovery code, stored hashed."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(200))
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class SettingRow(Base):
    """An organization setting changed in the UI (e.g. which roles must use a second factor)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)
