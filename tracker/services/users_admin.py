"""User management for admins: create, change role, disable, reset password, second-factor settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth import second_factor
from tracker.auth.tables import ROLES, UserRow
from tracker.auth.users import (
    Actor,
    UserError,
    create_user,
    end_sessions,
    hash_password,
    revoke_api_tokens,
    validate_password,
)
from tracker.services import audit
from tracker.services.runtime import Forbidden, NotFound, Runtime


@dataclass(frozen=True, slots=True)
class UserInfo:
    """One user as the admin pages list it."""

    id: int
    username: str
    role: str
    email: str | None
    active: bool
    second_factor: bool
    created_at: datetime


def _admin(actor: Actor) -> None:
    if actor.role != "admin":
        raise Forbidden("only admins manage users")


def _info(row: UserRow) -> UserInfo:
    return UserInfo(
        row.id, row.username, row.role, row.email, row.active, second_factor.is_enabled(row), row.created_at
    )


def list_users(rt: Runtime, actor: Actor) -> list[UserInfo]:
    """Every user, by name."""
    _admin(actor)
    with rt.db.read() as session:
        return [_info(r) for r in session.scalars(sa.select(UserRow).order_by(UserRow.username))]


def usernames(rt: Runtime, role: str | None = None) -> list[str]:
    """The names of active users (of one role), for pickers such as "assign a caseworker"."""
    query = sa.select(UserRow.username).where(UserRow.active.is_(True)).order_by(UserRow.username)
    if role:
        query = query.where(UserRow.role == role)
    with rt.db.read() as session:
        return list(session.scalars(query))


def _get(session: Session, user_id: int) -> UserRow:
    row = session.get(UserRow, user_id)
    if row is None:
        raise NotFound(str(user_id))
    return row


def get_user(rt: Runtime, actor: Actor, user_id: int) -> UserInfo:
    _admin(actor)
    with rt.db.read() as session:
        return _info(_get(session, user_id))


def add_user(
    rt: Runtime, actor: Actor, username: str, role: str, password: str, email: str | None, address: str
) -> UserInfo:
    """Create a user (UserError names what is wrong with the input)."""
    _admin(actor)
    with rt.db.write() as session:
        row = create_user(session, username.strip(), role, password, email or None)
        audit.record(session, actor.username, "user_created", row.username, {"role": role}, address)
        return _info(row)


def change_user(
    rt: Runtime, actor: Actor, user_id: int, *, role: str, active: bool, email: str | None, address: str
) -> UserInfo:
    """Change a user's role, e-mail or whether the account may sign in."""
    _admin(actor)
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    with rt.db.write() as session:
        row = _get(session, user_id)
        if row.id == actor.user_id and (role != row.role or not active):
            raise UserError("you cannot change your own role or disable your own account")
        changes = {}
        for name, new in (("role", role), ("active", active), ("email", email or None)):
            old = getattr(row, name)
            if old != new:
                changes[name] = {"from": old, "to": new}
                setattr(row, name, new)
        if "active" in changes:
            # Deactivation ends every session; so does reactivation, in case one was copied before.
            end_sessions(row)
        if changes:
            audit.record(session, actor.username, "user_changed", row.username, changes, address)
        return _info(row)


def reset_password(rt: Runtime, actor: Actor, user_id: int, password: str, address: str) -> int:
    """Set a new password; the user's open sessions end, their API tokens are revoked and their
    calendar feed stops (a reset usually means the account may be in other hands). Returns how
    many API tokens were revoked."""
    _admin(actor)
    validate_password(password)
    with rt.db.write() as session:
        row = _get(session, user_id)
        row.password_hash = hash_password(password)
        end_sessions(row)
        revoked = revoke_api_tokens(session, row.id, rt.now())
        detail = {"tokens_revoked": revoked, "calendar_feed_stopped": row.calendar_token_hash is not None}
        row.calendar_token_hash = None
        audit.record(session, actor.username, "password_reset", row.username, detail, address)
        return revoked


def reset_second_factor(rt: Runtime, actor: Actor, user_id: int, address: str) -> None:
    """Turn a user's second factor off (a lost phone); they enrol again if their role requires it."""
    _admin(actor)
    with rt.db.write() as session:
        row = _get(session, user_id)
        second_factor.disable(session, row)
        end_sessions(row)  # the lost phone may be in other hands, with a signed-in browser
        audit.record(session, actor.username, "second_factor_disabled", row.username, None, address)


def second_factor_roles(rt: Runtime) -> set[str]:
    with rt.db.read() as session:
        return second_factor.required_roles(session)


def set_second_factor_roles(rt: Runtime, actor: Actor, roles: set[str], address: str) -> None:
    """Choose the roles whose users must use a second factor."""
    _admin(actor)
    unknown = roles - set(ROLES)
    if unknown:
        raise UserError(f"unknown role {sorted(unknown)[0]!r}")
    with rt.db.write() as session:
        old = second_factor.required_roles(session)
        if old != roles:
            second_factor.set_required_roles(session, roles)
            detail = {"key": second_factor.REQUIRED_ROLES_SETTING, "from": sorted(old), "to": sorted(roles)}
            audit.record(session, actor.username, "setting_changed", None, detail, address)
