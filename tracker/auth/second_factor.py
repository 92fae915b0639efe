"""Second factor: TOTP (RFC 6238) and one-time recovery codes, stored hashed."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from tracker.auth.tables import RecoveryCodeRow, SettingRow, UserRow
from tracker.auth.users import check_password

ISSUER = "tracker"
REQUIRED_ROLES_SETTING = "second_factor_roles"
# Recovery codes carry 48 random bits, so a light Argon2id is plenty against guessing offline, and a
# sign-in that tries a code against all ten hashes stays quick (the password's cost would take seconds).
_recovery_hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def is_enabled(user: UserRow) -> bool:
    return bool(user.totp_secret) and user.totp_confirmed_at is not None


def required_roles(session: Session) -> set[str]:
    row = session.get(SettingRow, REQUIRED_ROLES_SETTING)
    return set(json.loads(row.value)) if row else set()


def set_required_roles(session: Session, roles: set[str]) -> None:
    row = session.get(SettingRow, REQUIRED_ROLES_SETTING)
    value = json.dumps(sorted(roles))
    if row is None:
        session.add(SettingRow(key=REQUIRED_ROLES_SETTING, value=value))
    else:
        row.value = value


def must_enrol(session: Session, user: UserRow) -> bool:
    """The user's role requires a second factor and the user has none yet."""
    return user.role in required_roles(session) and not is_enabled(user)


def begin_enrolment(user: UserRow) -> str:
    """A new (unconfirmed) secret; returns the otpauth:// URI for a QR code."""
    user.totp_secret = pyotp.random_base32()
    user.totp_confirmed_at = None
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def confirm_enrolment(session: Session, user: UserRow, code: str) -> list[str] | None:
    """Turn the second factor on if the code fits; returns the new recovery codes (shown once)."""
    if not user.totp_secret or not pyotp.TOTP(user.totp_secret).verify(code.strip(), valid_window=1):
        return None
    user.totp_confirmed_at = datetime.now(UTC)
    return new_recovery_codes(session, user)


def disable(session: Session, user: UserRow) -> None:
    user.totp_secret = None
    user.totp_confirmed_at = None
    session.execute(sa.delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user.id))


def new_recovery_codes(session: Session, user: UserRow, count: int = 10) -> list[str]:
    """Replace the user's recovery codes; only their hashes are kept."""
    session.execute(sa.delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user.id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(count)]
    session.add_all(RecoveryCodeRow(user_id=user.id, code_hash=_recovery_hasher.hash(c)) for c in codes)
    return codes


def verify(session: Session, user: UserRow, code: str | None) -> bool:
    """A current TOTP code, or an unused recovery code (which is then spent)."""
    if not is_enabled(user):
        return True
    code = (code or "").strip().replace(" ", "")
    if not code:
        return False
    assert user.totp_secret is not None
    if code.isdigit() and pyotp.TOTP(user.totp_secret).verify(code, valid_window=1):
        return True
    unused = session.execute(
        sa.select(RecoveryCodeRow.id, RecoveryCodeRow.code_hash).where(
            RecoveryCodeRow.user_id == user.id, RecoveryCodeRow.used_at.is_(None)
        )
    ).all()
    for code_id, code_hash in unused:
        if check_password(code_hash, code.lower()):
            # Spent only if still unused: of two simultaneous sign-ins with one code, the second
            # waits for the first's row lock and then finds it used.
            spent = session.execute(
                sa.update(RecoveryCodeRow)
                .where(RecoveryCodeRow.id == code_id, RecoveryCodeRow.used_at.is_(None))
                .values(used_at=datetime.now(UTC))
                .execution_options(synchronize_session=False)
            )
            return spent.rowcount == 1  # type: ignore[attr-defined]  # Session.execute says Result; DML gives a CursorResult
    return False
