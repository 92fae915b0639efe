"""The second-factor service: TOTP enrolment, codes checked with pyotp, one-time hashed recovery codes."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import sqlalchemy as sa
from conftest import PASSWORD

from tracker.auth import second_factor as sf
from tracker.auth.tables import RecoveryCodeRow, UserRow
from tracker.auth.users import create_user, find_user


@pytest.fixture
def rt(sqlite_app: Any) -> Any:
    runtime = sqlite_app.extensions["tracker"]
    with runtime.db.write() as session:
        create_user(session, "anna", "caseworker", PASSWORD)
        create_user(session, "ada", "admin", PASSWORD)
    return runtime


def enrol(rt: Any, username: str = "anna") -> tuple[str, list[str]]:
    """Enrol the user as the web flow does: begin, then confirm with the current code."""
    with rt.db.write() as session:
        user = find_user(session, username)
        uri = sf.begin_enrolment(user)
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    with rt.db.write() as session:
        codes = sf.confirm_enrolment(session, find_user(session, username), pyotp.TOTP(secret).now())
    assert codes is not None
    return secret, codes


def check(rt: Any, code: str | None, username: str = "anna") -> bool:
    with rt.db.write() as session:
        return sf.verify(session, find_user(session, username), code)


def test_enrolment_gives_a_provisioning_uri_and_needs_a_valid_code(rt: Any) -> None:
    with rt.db.write() as session:
        user = find_user(session, "anna")
        uri = sf.begin_enrolment(user)
        assert not sf.is_enabled(user)
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp" and "anna" in parsed.path
    assert parse_qs(parsed.query)["issuer"] == ["tracker"]
    secret = parse_qs(parsed.query)["secret"][0]
    wrong = str((int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000).zfill(6)
    with rt.db.write() as session:
        assert sf.confirm_enrolment(session, find_user(session, "anna"), wrong) is None
        assert not sf.is_enabled(find_user(session, "anna"))
        codes = sf.confirm_enrolment(session, find_user(session, "anna"), pyotp.TOTP(secret).now())
    assert codes is not None and len(set(codes)) == 10
    with rt.db.read() as session:
        assert sf.is_enabled(find_user(session, "anna"))


def test_a_user_with_totp_needs_the_current_code(rt: Any) -> None:
    assert check(rt, None)  # no second factor yet: nothing more is asked
    secret, _codes = enrol(rt)
    totp = pyotp.TOTP(secret)
    assert not check(rt, None)
    assert not check(rt, "")
    assert not check(rt, str((int(totp.now()) + 1) % 1_000_000).zfill(6))
    assert check(rt, totp.now())
    assert check(rt, f" {totp.now()[:3]} {totp.now()[3:]} ")  # spaces as authenticator apps show them
    assert not check(rt, pyotp.TOTP(pyotp.random_base32()).now() + "0")


def test_a_recovery_code_works_once_and_is_stored_hashed(rt: Any) -> None:
    _secret, codes = enrol(rt)
    with rt.db.read() as session:
        hashes = list(session.scalars(sa.select(RecoveryCodeRow.code_hash)))
    assert len(hashes) == 10 and not any(code in h for code in codes for h in hashes)

    assert check(rt, codes[3])
    assert not check(rt, codes[3])
    assert check(rt, codes[7].upper())  # another code still works, whatever its case
    with rt.db.read() as session:
        used = session.scalar(sa.select(sa.func.count()).where(RecoveryCodeRow.used_at.is_not(None)))
    assert used == 2


def test_required_roles_and_disabling(rt: Any) -> None:
    with rt.db.write() as session:
        sf.set_required_roles(session, {"admin", "supervisor"})
    with rt.db.read() as session:
        assert sf.required_roles(session) == {"admin", "supervisor"}
        assert sf.must_enrol(session, find_user(session, "ada"))
        assert not sf.must_enrol(session, find_user(session, "anna"))
    enrol(rt, "ada")
    with rt.db.write() as session:
        ada = find_user(session, "ada")
        assert not sf.must_enrol(session, ada)
        sf.disable(session, ada)
    with rt.db.read() as session:
        ada = session.scalar(sa.select(UserRow).where(UserRow.username == "ada"))
        assert ada.totp_secret is None and sf.must_enrol(session, ada)
        left = session.scalar(sa.select(sa.func.count()).where(RecoveryCodeRow.user_id == ada.id))
    assert left == 0
    assert check(rt, None, "ada")


def test_two_simultaneous_sign_ins_cannot_both_spend_one_recovery_code(app: Any) -> None:
    runtime = app.extensions["tracker"]
    with runtime.db.write() as session:
        create_user(session, "anna", "caseworker", PASSWORD)
    _secret, codes = enrol(runtime)
    second: dict[str, Any] = {}

    def other_sign_in() -> None:
        try:
            second["ok"] = check(runtime, codes[0])
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            second["error"] = exc

    with runtime.db.write() as session:
        assert sf.verify(session, find_user(session, "anna"), codes[0])
        session.flush()
        thread = threading.Thread(target=other_sign_in)
        thread.start()
        thread.join(timeout=1.5)  # it waits for this transaction (or, unlocked, has already read)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert second == {"ok": False}
    with runtime.db.read() as session:
        used = session.scalar(sa.select(sa.func.count()).where(RecoveryCodeRow.used_at.is_not(None)))
    assert used == 1
