"""Web sign-in: passwords, second factor, the limits on attempts (signin_limits), session users."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import sqlalchemy as sa

from tracker.auth import second_factor
from tracker.auth.tables import SettingRow, UserRow
from tracker.auth.users import USERNAME, Actor, check_password, end_sessions, find_user
from tracker.services import audit, signin_limits
from tracker.services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class SessionUser:
    """A signed-in user as the web UI needs it on every request."""

    id: int
    username: str
    role: str
    locale: str | None
    second_factor: bool
    must_enrol: bool
    fingerprint: str
    calendar_feed: bool = False
    time_zone: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.role, self.id, self.time_zone)


@dataclass(frozen=True, slots=True)
class SigninResult:
    """The outcome of one sign-in attempt: a user, or why not (and for how long, when throttled)."""

    user: SessionUser | None
    problem: str | None = None  # "invalid" | "code" | "throttled"
    retry_after: int = 0


def fingerprint(password_hash: str, epoch: int) -> str:
    """Part of the session's identity in its cookie; it changes with the password and with the user's
    session generation (raised on sign-out, deactivation, reactivation and password changes), so a
    copy of an ended session's cookie is refused."""
    material = f"{epoch}:{password_hash}".encode()
    return hashlib.sha256(b"tracker-session" + material).hexdigest()[:16]


def _session_user(user: UserRow, required: set[str]) -> SessionUser:
    enabled = second_factor.is_enabled(user)
    return SessionUser(
        id=user.id,
        username=user.username,
        role=user.role,
        locale=user.locale,
        second_factor=enabled,
        must_enrol=user.role in required and not enabled,
        fingerprint=fingerprint(user.password_hash, user.session_epoch or 0),
        calendar_feed=user.calendar_token_hash is not None,
        time_zone=user.time_zone,
    )


def _plain(text: str) -> str:
    # Only what a user name or an address may hold reaches a query: no NUL (PostgreSQL refuses it
    # with an error whose logged parameters would show the typed text), no control characters.
    return "".join(c for c in text if c.isprintable())


def sign_in(
    rt: Runtime,
    username: str,
    password: str,
    code: str | None,
    address: str,
    device: str | None = None,
) -> SigninResult:
    """Check a sign-in; every attempt is counted for the limits and written to the audit log.

    `device` is the id from the browser's signed device cookie for this account, if it has one.
    """
    username = username.strip().lower()[:64]
    attempt = signin_limits.Attempt(
        signin_limits.account_key(rt, username), _plain(address or "unknown")[:64] or "unknown", device
    )
    with rt.db.write() as session:
        user = find_user(session, username) if USERNAME.fullmatch(username) else None
        # The audit log, which auditors read, names only accounts that exist: what was typed into the
        # user name box may be a password (the limits keep only a keyed digest of it).
        named = username if user is not None else "unknown"
        wait = signin_limits.wait_seconds(session, rt, attempt)
        if wait:
            audit.record(session, named, "signin_failed", named, {"reason": "throttled"}, attempt.address)
            return SigninResult(None, "throttled", wait)
        ok = check_password(user.password_hash if user else None, password) and user is not None
        problem = None if ok and user is not None and user.active else "invalid"
        if (
            problem is None
            and user is not None
            and not second_factor.verify(session, rt, user, code, rt.now())
        ):
            problem = "code"
        signin_limits.record(session, rt, attempt, success=problem is None)
        if problem is not None or user is None:
            detail = {"reason": "second factor" if problem == "code" else "password or account"}
            audit.record(session, named, "signin_failed", named, detail, attempt.address)
            return SigninResult(None, problem or "invalid")
        audit.record(session, username, "signin", username, None, attempt.address)
        return SigninResult(_session_user(user, second_factor.required_roles(session)))


def load_user(rt: Runtime, user_id: int) -> SessionUser | None:
    """The active user with this id (one query: the required-roles setting comes along)."""
    required = (
        sa.select(SettingRow.value)
        .where(SettingRow.key == second_factor.REQUIRED_ROLES_SETTING)
        .scalar_subquery()
    )
    with rt.db.read() as session:
        row = session.execute(sa.select(UserRow, required).where(UserRow.id == user_id)).first()
        if row is None or not row[0].active:
            return None
        roles = set(json.loads(row[1])) if row[1] else set()
        return _session_user(row[0], roles)


def sign_out(rt: Runtime, username: str, address: str | None, reason: str | None = None) -> None:
    """End the user's sessions (every copy of their cookie) and record it in the audit log.

    A session that ended by inactivity is only recorded: its cookie is already refused, and an old
    cookie must not be able to sign the user out of the sessions they use now.
    """
    with rt.db.write() as session:
        if reason is None:
            user = find_user(session, username)
            if user is not None:
                end_sessions(user)
        audit.record(session, username, "signout", username, {"reason": reason} if reason else None, address)
