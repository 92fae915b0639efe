"""What users do to their own account: language, password, second factor."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tracker.auth import second_factor
from tracker.auth.tables import UserRow
from tracker.auth.users import (
    UserError,
    check_password,
    end_sessions,
    hash_password,
    revoke_api_tokens,
    validate_password,
)
from tracker.clock import UnknownZone, zone_named
from tracker.crypto.codec import CryptoError
from tracker.services import audit
from tracker.services.runtime import NotFound, Runtime

LOCALES = ("en", "ru")


def _user(session: Session, user_id: int) -> UserRow:
    row = session.get(UserRow, user_id)
    if row is None or not row.active:
        raise NotFound(str(user_id))
    return row


def set_locale(rt: Runtime, user_id: int, locale: str) -> None:
    """Remember the user's language."""
    if locale not in LOCALES:
        raise UserError(f"unknown language {locale!r}")
    with rt.db.write() as session:
        _user(session, user_id).locale = locale


def set_time_zone(rt: Runtime, user_id: int, name: str | None) -> None:
    """Remember the user's own time zone; None or "" goes back to the organization's."""
    if name:
        try:
            zone_named(name)
        except UnknownZone:
            raise UserError(f"unknown time zone {name[:64]!r}") from None
    with rt.db.write() as session:
        _user(session, user_id).time_zone = name or None


def change_password(rt: Runtime, user_id: int, current: str, new: str, address: str) -> int:
    """Change one's own password; the current one must be given. Every session of the user ends and
    their API tokens are revoked (a change often means the old password leaked). Returns how many."""
    with rt.db.write() as session:
        row = _user(session, user_id)
        if not check_password(row.password_hash, current):
            raise UserError("the current password is not right")
        validate_password(new)
        row.password_hash = hash_password(new)
        end_sessions(row)
        revoked = revoke_api_tokens(session, row.id, rt.now())
        detail = {"by": "self", "tokens_revoked": revoked}
        audit.record(session, row.username, "password_reset", row.username, detail, address)
        return revoked


def begin_enrolment(rt: Runtime, user_id: int) -> tuple[str, str]:
    """A new unconfirmed TOTP secret: (otpauth URI for the QR code, the secret to type by hand)."""
    with rt.db.write() as session:
        row = _user(session, user_id)
        if second_factor.is_enabled(row):
            raise UserError("the second factor is already on")
        return second_factor.begin_enrolment(rt, row)


def pending_enrolment(rt: Runtime, user_id: int) -> tuple[str, str] | None:
    """The enrolment started but not confirmed yet, if any."""
    with rt.db.read() as session:
        row = _user(session, user_id)
        if second_factor.is_enabled(row):
            return None
        try:
            return second_factor.enrolment(rt, row)
        except CryptoError:
            return None  # sealed under a key this process lacks: a new enrolment begins


def confirm_enrolment(rt: Runtime, user_id: int, code: str, address: str) -> list[str] | None:
    """Turn the second factor on when the code fits; returns the recovery codes (shown once)."""
    with rt.db.write() as session:
        row = _user(session, user_id)
        codes = second_factor.confirm_enrolment(session, rt, row, code, rt.now())
        if codes is not None:
            audit.record(session, row.username, "second_factor_enabled", row.username, None, address)
        return codes


def disable_second_factor(rt: Runtime, user_id: int, password: str, address: str) -> None:
    """Turn one's own second factor off, unless one's role requires it."""
    with rt.db.write() as session:
        row = _user(session, user_id)
        if not check_password(row.password_hash, password):
            raise UserError("the current password is not right")
        if row.role in second_factor.required_roles(session):
            raise UserError("your role requires a second factor")
        second_factor.disable(session, row)
        audit.record(session, row.username, "second_factor_disabled", row.username, {"by": "self"}, address)
