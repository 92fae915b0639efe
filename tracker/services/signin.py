"""Web sign-in: passwords, second factor, rate limits per account and per address, session users."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth import second_factor
from tracker.auth.tables import SettingRow, SigninAttemptRow, UserRow
from tracker.auth.users import Actor, check_password, end_sessions, find_user
from tracker.services import audit
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

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.role, self.id)


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


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
    )


def _throttle(session: Session, rt: Runtime, username: str, address: str) -> int:
    """Seconds until the next attempt is allowed; 0 when it is allowed now."""
    limit = int(rt.settings.get("SIGNIN_MAX_ATTEMPTS", 5))
    window = int(rt.settings.get("SIGNIN_WINDOW_SECONDS", 300))
    now = rt.now()
    since = now - timedelta(seconds=window)
    wait = 0
    for column, value in ((SigninAttemptRow.username, username), (SigninAttemptRow.address, address)):
        failures = session.scalars(
            sa.select(SigninAttemptRow.at)
            .where(column == value, SigninAttemptRow.at > since, SigninAttemptRow.success.is_(False))
            .order_by(SigninAttemptRow.at.desc())
            .limit(limit)
        ).all()
        if len(failures) >= limit:
            oldest = _as_utc(failures[-1])
            wait = max(wait, int((oldest + timedelta(seconds=window) - now).total_seconds()) + 1)
    return wait


def sign_in(rt: Runtime, username: str, password: str, code: str | None, address: str) -> SigninResult:
    """Check a sign-in; every attempt is counted for the rate limits and written to the audit log."""
    username = username.strip().lower()[:64]
    address = (address or "unknown")[:64]
    with rt.db.write() as session:
        user = find_user(session, username)
        # The audit log, which auditors read, names only accounts that exist: what was typed into the
        # user name box may be a password. The raw value stays in the attempts table, for the limits.
        named = username if user is not None else "unknown"
        wait = _throttle(session, rt, username, address)
        if wait:
            audit.record(session, named, "signin_failed", named, {"reason": "throttled"}, address)
            return SigninResult(None, "throttled", wait)
        ok = check_password(user.password_hash if user else None, password) and user is not None
        problem = None if ok and user is not None and user.active else "invalid"
        if problem is None and user is not None and not second_factor.verify(session, user, code):
            problem = "code"
        session.add(
            SigninAttemptRow(at=rt.now(), username=username, address=address, success=problem is None)
        )
        if problem is not None or user is None:
            detail = {"reason": "second factor" if problem == "code" else "password or account"}
            audit.record(session, named, "signin_failed", named, detail, address)
            return SigninResult(None, problem or "invalid")
        audit.record(session, username, "signin", username, None, address)
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
