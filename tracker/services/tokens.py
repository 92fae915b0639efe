"""API tokens: issue with a name and an expiry, list (never the secret), revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.tables import TokenRow, UserRow
from tracker.auth.users import Actor, UserError, find_user, issue_token, token_digest
from tracker.services import audit
from tracker.services.runtime import Forbidden, Runtime

MAX_EXPIRY_DAYS = 3650
MAX_NAME = 100


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: everything but the token itself."""

    id: int
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    state: str  # "active" | "expired" | "revoked"


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _info(row: TokenRow, now: datetime) -> TokenInfo:
    expires, revoked = _aware(row.expires_at), _aware(row.revoked_at)
    state = "revoked" if revoked else "expired" if expires is not None and expires <= now else "active"
    return TokenInfo(row.id, row.name, _aware(row.created_at) or now, expires, revoked, state)


def _may_manage(actor: Actor, username: str) -> None:
    if actor.role != "admin" and actor.username != username:
        raise Forbidden("only admins manage the tokens of other users")


def _user(session: Session, username: str) -> UserRow:
    user = find_user(session, username)
    if user is None:
        raise UserError(f"no such user: {username}")
    return user


def list_tokens(rt: Runtime, actor: Actor, username: str) -> list[TokenInfo]:
    """The user's tokens, newest first."""
    _may_manage(actor, username)
    now = rt.now()
    with rt.db.read() as session:
        user = _user(session, username)
        rows = session.scalars(
            sa.select(TokenRow).where(TokenRow.user_id == user.id).order_by(TokenRow.id.desc())
        )
        return [_info(r, now) for r in rows]


def create_token(
    rt: Runtime,
    actor: Actor,
    username: str,
    name: str | None = None,
    expires_days: int | None = None,
    address: str | None = None,
) -> tuple[TokenInfo, str]:
    """A new token for the user: its description and the secret, which is shown this once."""
    _may_manage(actor, username)
    if name is not None:
        name = name.strip() or None
    if name is not None and len(name) > MAX_NAME:
        raise UserError(f"the token name is too long ({MAX_NAME} characters at most)")
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        raise UserError(f"the token expiry must be between 1 and {MAX_EXPIRY_DAYS} days")
    now = rt.now()
    expires = now + timedelta(days=expires_days) if expires_days is not None else None
    with rt.db.write() as session:
        _user(session, username)
        secret = issue_token(session, username, name, expires)
        session.flush()
        row = session.scalars(sa.select(TokenRow).where(TokenRow.token_hash == token_digest(secret))).one()
        detail = {"token_id": row.id, "name": name, "expires_at": expires.isoformat() if expires else None}
        audit.record(session, actor.username, "token_created", username, detail, address)
        return _info(row, now), secret


def revoke_token(
    rt: Runtime, actor: Actor, username: str, token_id: int, address: str | None = None
) -> TokenInfo:
    """Revoke one of the user's tokens; the API refuses it from now on."""
    _may_manage(actor, username)
    now = rt.now()
    with rt.db.write() as session:
        user = _user(session, username)
        row = session.get(TokenRow, token_id)
        if row is None or row.user_id != user.id:
            raise UserError(f"user {username} has no token {token_id}")
        if row.revoked_at is not None:
            raise UserError(f"token {token_id} of {username} was already revoked")
        row.revoked_at = now
        audit.record(session, actor.username, "token_revoked", username, {"token_id": token_id}, address)
        return _info(row, now)
