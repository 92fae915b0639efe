"""Users, passwords (Argon2id) and API tokens (stored as SHA-256)."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from tracker.auth.tables import ROLES, TokenRow, UserRow
from tracker.clock import utc_now

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,39}$")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verifying against this keeps an unknown user's sign-in as slow as a known one's. Made on first
    # use: hashing at import cost every `tracker` command a quarter of a second.
    return _hasher.hash("not-a-password")


class UserError(Exception):
    """A user command that cannot be carried out; the message says why."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a signed-in user, an API token's owner, or the system itself."""

    username: str
    role: str
    user_id: int | None = None
    # The user's own time zone, when they chose one (tracker.clock).
    time_zone: str | None = None

    @property
    def sees_sensitive(self) -> bool:
        return self.role != "auditor"

    @property
    def sees_every_case(self) -> bool:
        return self.role in ("supervisor", "auditor", "admin")

    @property
    def may_record(self) -> bool:
        return self.role != "auditor"


SYSTEM = Actor("system", "admin")


def now() -> datetime:
    return utc_now()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def end_sessions(user: UserRow) -> None:
    """Every session of the user ends: its session generation no longer matches the user's."""
    user.session_epoch = (user.session_epoch or 0) + 1


def revoke_api_tokens(session: Session, user_id: int, at: datetime) -> int:
    """Revoke every API token of the user that is not revoked yet; returns how many."""
    result = session.execute(
        sa.update(TokenRow)
        .where(TokenRow.user_id == user_id, TokenRow.revoked_at.is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def validate_password(password: str) -> None:
    if len(password) < 10:
        raise UserError("the password must have at least 10 characters")
    if len(password) > 1000:
        raise UserError("the password is too long (1000 characters at most)")


def create_user(
    session: Session, username: str, role: str, password: str, email: str | None = None
) -> UserRow:
    if not USERNAME.match(username):
        raise UserError(
            f"invalid user name {username!r}: 2-40 characters, lowercase letters, digits, '.', '_' or '-'"
        )
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    validate_password(password)
    if find_user(session, username) is not None:
        raise UserError(f"user {username!r} already exists")
    user = UserRow(
        username=username,
        role=role,
        password_hash=hash_password(password),
        email=email,
        active=True,
        created_at=now(),
        session_epoch=0,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> UserRow | None:
    return session.scalar(sa.select(UserRow).where(UserRow.username == username))


def existing_usernames(session: Session, names: set[str]) -> set[str]:
    if not names:
        return set()
    return set(session.scalars(sa.select(UserRow.username).where(UserRow.username.in_(names))))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, username: str, name: str | None = None, expires_at: datetime | None = None
) -> str:
    """A new API token for the user; only its hash is kept."""
    user = find_user(session, username)
    if user is None:
        raise UserError(f"no such user: {username}")
    token = "trk_" + secrets.token_urlsafe(32)
    session.add(
        TokenRow(
            user_id=user.id,
            token_hash=token_digest(token),
            name=name,
            created_at=now(),
            expires_at=expires_at,
        )
    )
    return token


def actor_for_token(session: Session, token: str) -> Actor | None:
    """The active user a token belongs to, if the token is valid now."""
    if not token or len(token) > 200:
        return None
    row = session.execute(
        sa.select(UserRow, TokenRow)
        .join(TokenRow, TokenRow.user_id == UserRow.id)
        .where(TokenRow.token_hash == token_digest(token))
    ).first()
    if row is None:
        return None
    user, tok = row
    if not user.active or tok.revoked_at is not None:
        return None
    if tok.expires_at is not None:
        expires = tok.expires_at if tok.expires_at.tzinfo else tok.expires_at.replace(tzinfo=UTC)
        if expires <= now():
            return None
    return Actor(user.username, user.role, user.id, user.time_zone)
