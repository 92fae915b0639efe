"""Second factor: TOTP (RFC 6238), each code accepted once, with its secret sealed by the installation
key; and one-time recovery codes, stored hashed."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Protocol

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from tracker.auth.tables import RecoveryCodeRow, SettingRow, UserRow
from tracker.auth.users import check_password
from tracker.crypto.codec import ENC, CryptoError, decrypt_value, encrypt_value, kek_id

ISSUER = "tracker"
REQUIRED_ROLES_SETTING = "second_factor_roles"
# Recovery codes carry 48 random bits, so a light Argon2id is plenty against guessing offline, and a
# sign-in that tries a code against all ten hashes stays quick (the password's cost would take seconds).
_recovery_hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
# A code is accepted in its own 30 s step and in the step after (typed at the turn of a step), never
# in a step before the last one accepted for that user, and never twice.
STEPS_LATE = 1


class InstallationKeys(Protocol):
    """The installation keys: the current one seals, any known one opens (the Runtime is one)."""

    kek: bytes

    def kek_for(self, key_id: str) -> bytes: ...


def _seal(keys: InstallationKeys, user: UserRow, secret: str) -> None:
    # The codec's AES-GCM with the user's id in the associated data: a sealed secret cannot be moved
    # to another user's row. The key id in front says which installation key opens it.
    sealed = encrypt_value(keys.kek, "users", str(user.id), "totp_secret", secret)
    user.totp_secret_sealed = f"{kek_id(keys.kek)}:{sealed[ENC]}"
    user.totp_secret = None


def _secret(keys: InstallationKeys, user: UserRow) -> str | None:
    """The user's TOTP secret, opened; a secret kept in clear from before revision 0005 as it is."""
    if not user.totp_secret_sealed:
        return user.totp_secret
    key_id, _, sealed = user.totp_secret_sealed.partition(":")
    value = decrypt_value(keys.kek_for(key_id), "users", str(user.id), "totp_secret", {ENC: sealed})
    return str(value)


def _reseal_if_old(keys: InstallationKeys, user: UserRow, secret: str) -> None:
    """Seal a clear secret, or one sealed under an older installation key, under the current key."""
    if user.totp_secret or not (user.totp_secret_sealed or "").startswith(kek_id(keys.kek) + ":"):
        _seal(keys, user, secret)


def reseal_all(session: Session, keys: InstallationKeys) -> int:
    """Seal every secret kept in clear or under an older installation key under the current key (part
    of a key rotation); returns how many. CryptoError names a key that is needed but not held."""
    current = kek_id(keys.kek) + ":"
    rows = session.scalars(
        sa.select(UserRow).where(
            sa.or_(
                UserRow.totp_secret.is_not(None),
                sa.and_(
                    UserRow.totp_secret_sealed.is_not(None),
                    sa.not_(UserRow.totp_secret_sealed.startswith(current, autoescape=True)),
                ),
            )
        )
    ).all()
    for user in rows:
        secret = _secret(keys, user)
        if secret is not None:
            _seal(keys, user, secret)
    return len(rows)


def is_enabled(user: UserRow) -> bool:
    return bool(user.totp_secret_sealed or user.totp_secret) and user.totp_confirmed_at is not None


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


def begin_enrolment(keys: InstallationKeys, user: UserRow) -> tuple[str, str]:
    """A new (unconfirmed) secret: (the otpauth:// URI for a QR code, the secret to type by hand)."""
    secret = pyotp.random_base32()
    _seal(keys, user, secret)
    user.totp_confirmed_at = None
    user.totp_last_step = None
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER), secret


def enrolment(keys: InstallationKeys, user: UserRow) -> tuple[str, str] | None:
    """The user's secret as begin_enrolment gives it, if there is one."""
    secret = _secret(keys, user)
    if secret is None:
        return None
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER), secret


def _accept_code(session: Session, user: UserRow, secret: str, code: str, now: datetime) -> bool:
    """The code of the current step (or of the step before), if no code of that step or a later
    one was accepted before; that step is remembered, so the code never works again."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current, current - STEPS_LATE - 1, -1):
        if not secrets.compare_digest(totp.generate_otp(step), code):
            continue
        if user.totp_last_step is not None and step <= user.totp_last_step:
            return False
        # Conditional, like a recovery code's spending: of two sign-ins with one code at the same
        # time, the second waits for the first's row lock and then finds the step taken.
        taken = session.execute(
            sa.update(UserRow)
            .where(
                UserRow.id == user.id,
                sa.or_(UserRow.totp_last_step.is_(None), UserRow.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return False
        set_committed_value(user, "totp_last_step", step)
        return True
    return False


def confirm_enrolment(
    session: Session, keys: InstallationKeys, user: UserRow, code: str, now: datetime
) -> list[str] | None:
    """Turn the second factor on if the code fits; returns the new recovery codes (shown once)."""
    secret = _secret(keys, user)
    code = code.strip().replace(" ", "")
    if not secret or not code.isdigit() or not _accept_code(session, user, secret, code, now):
        return None
    user.totp_confirmed_at = now
    return new_recovery_codes(session, user)


def disable(session: Session, user: UserRow) -> None:
    user.totp_secret = None
    user.totp_secret_sealed = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    session.execute(sa.delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user.id))


def new_recovery_codes(session: Session, user: UserRow, count: int = 10) -> list[str]:
    """Replace the user's recovery codes; only their hashes are kept."""
    session.execute(sa.delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user.id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(count)]
    session.add_all(RecoveryCodeRow(user_id=user.id, code_hash=_recovery_hasher.hash(c)) for c in codes)
    return codes


def verify(session: Session, keys: InstallationKeys, user: UserRow, code: str | None, now: datetime) -> bool:
    """A current TOTP code not used before, or an unused recovery code (which is then spent)."""
    if not is_enabled(user):
        return True
    code = (code or "").strip().replace(" ", "")
    if not code or len(code) > 32:
        return False
    if code.isdigit():
        try:
            secret = _secret(keys, user)
        except CryptoError:
            # Sealed under an installation key this process no longer holds: only a recovery code
            # (or an admin's reset of the second factor) helps now.
            secret = None
        if secret is not None and _accept_code(session, user, secret, code, now):
            _reseal_if_old(keys, user, secret)
            return True
        return False
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
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            return spent.rowcount == 1  # type: ignore[attr-defined]  # Session.execute says Result; DML gives a CursorResult
    return False
