"""The second-factor service: TOTP enrolment, codes checked with pyotp, one-time hashed recovery codes."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
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
    """Enrol the user as the web flow does: begin, then confirm with the code of one step ago."""
    with rt.db.write() as session:
        user = find_user(session, username)
        uri, secret = sf.begin_enrolment(rt, user)
    assert parse_qs(urlparse(uri).query)["secret"] == [secret]
    earlier = rt.now() - timedelta(seconds=30)
    with rt.db.write() as session:
        user = find_user(session, username)
        codes = sf.confirm_enrolment(session, rt, user, pyotp.TOTP(secret).at(earlier), earlier)
    assert codes is not None
    return secret, codes


def check(rt: Any, code: str | None, username: str = "anna", at: datetime | None = None) -> bool:
    with rt.db.write() as session:
        return sf.verify(session, rt, find_user(session, username), code, at or rt.now())


def test_enrolment_gives_a_provisioning_uri_and_needs_a_valid_code(rt: Any) -> None:
    with rt.db.write() as session:
        user = find_user(session, "anna")
        uri, secret = sf.begin_enrolment(rt, user)
        assert not sf.is_enabled(user)
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp" and "anna" in parsed.path
    assert parse_qs(parsed.query)["issuer"] == ["tracker"]
    assert parse_qs(parsed.query)["secret"] == [secret]
    wrong = str((int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000).zfill(6)
    now = rt.now()
    with rt.db.write() as session:
        assert sf.confirm_enrolment(session, rt, find_user(session, "anna"), wrong, now) is None
        assert not sf.is_enabled(find_user(session, "anna"))
        codes = sf.confirm_enrolment(session, rt, find_user(session, "anna"), pyotp.TOTP(secret).now(), now)
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
    code = totp.now()
    assert check(rt, f" {code[:3]} {code[3:]} ")  # spaces as authenticator apps show them
    assert not check(rt, pyotp.TOTP(pyotp.random_base32()).now() + "0")


def test_a_totp_code_is_accepted_once_and_never_an_older_one(rt: Any) -> None:
    secret, _codes = enrol(rt)  # enrolled with the code of the step before this one
    totp = pyotp.TOTP(secret)
    now = rt.now()
    code = totp.at(now)
    assert check(rt, code, at=now)
    assert not check(rt, code, at=now)  # replayed within its window
    assert not check(rt, code, at=now + timedelta(seconds=30))  # or in the step after
    assert not check(rt, totp.at(now - timedelta(seconds=30)), at=now)  # the step before: used already
    later = now + timedelta(seconds=60)
    assert not check(rt, totp.at(later - timedelta(seconds=90)), at=later)  # too old
    assert not check(rt, totp.at(later + timedelta(seconds=30)), at=later)  # not yet
    assert check(rt, totp.at(later - timedelta(seconds=30)), at=later)  # typed at the turn of a step
    assert not check(rt, totp.at(later - timedelta(seconds=30)), at=later)


def test_the_totp_secret_is_sealed_by_the_installation_key(app: Any) -> None:
    runtime = app.extensions["tracker"]
    with runtime.db.write() as session:
        create_user(session, "anna", "caseworker", PASSWORD)
        create_user(session, "boris", "caseworker", PASSWORD)
    secret, _codes = enrol(runtime)
    enrol(runtime, "boris")
    with runtime.db.read() as session:
        rows = session.execute(
            sa.select(UserRow.username, UserRow.totp_secret, UserRow.totp_secret_sealed)
        ).all()
    stored = " ".join(str(v) for row in rows for v in row)
    assert secret not in stored and secret.lower() not in stored
    sealed = {name: (clear, value) for name, clear, value in rows}
    assert sealed["anna"][0] is None and sealed["anna"][1].startswith(runtime.kek_id + ":")
    # A sealed secret is bound to its user: copied to another row, it does not open.
    with runtime.db.write() as session:
        find_user(session, "boris").totp_secret_sealed = sealed["anna"][1]
    now = runtime.now() + timedelta(seconds=60)
    assert not check(runtime, pyotp.TOTP(secret).at(now), "boris", at=now)
    assert check(runtime, pyotp.TOTP(secret).at(now), "anna", at=now)


def test_a_secret_kept_in_clear_from_before_is_sealed_at_its_next_use(rt: Any) -> None:
    secret = pyotp.random_base32()
    with rt.db.write() as session:
        anna = find_user(session, "anna")
        anna.totp_secret, anna.totp_confirmed_at = secret, rt.now()
    assert check(rt, pyotp.TOTP(secret).now())
    with rt.db.read() as session:
        anna = find_user(session, "anna")
        assert anna.totp_secret is None and secret not in (anna.totp_secret_sealed or "")
    later = rt.now() + timedelta(seconds=30)
    assert check(rt, pyotp.TOTP(secret).at(later), at=later)


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
        assert ada.totp_secret is None and ada.totp_secret_sealed is None and sf.must_enrol(session, ada)
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
        assert sf.verify(session, runtime, find_user(session, "anna"), codes[0], runtime.now())
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


def test_a_key_rotation_reseals_the_secrets_and_the_old_key_can_go(
    app: Any, db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import secrets as random

    from conftest import DATA_KEY, _make_app

    from tracker.auth.users import Actor
    from tracker.services import keys

    runtime = app.extensions["tracker"]
    with runtime.db.write() as session:
        create_user(session, "anna", "caseworker", PASSWORD)
    secret, _codes = enrol(runtime)
    new_key = base64.urlsafe_b64encode(random.token_bytes(32)).decode()
    only_new = _make_app(db_url, tmp_path, monkeypatch, DATA_KEY=new_key).extensions["tracker"]
    # Without the old key the code cannot be checked: refused, and nothing breaks.
    assert not check(only_new, pyotp.TOTP(secret).now())
    both = _make_app(db_url, tmp_path, monkeypatch, DATA_KEY=new_key, OLD_DATA_KEYS=DATA_KEY)
    keys.rotate(both.extensions["tracker"], Actor("ada", "admin"))
    later = only_new.now() + timedelta(seconds=30)
    assert check(only_new, pyotp.TOTP(secret).at(later), at=later)
    for rt_ in (only_new, both.extensions["tracker"]):
        rt_.db.dispose()


def test_two_simultaneous_sign_ins_cannot_both_use_one_totp_code(app: Any) -> None:
    runtime = app.extensions["tracker"]
    with runtime.db.write() as session:
        create_user(session, "anna", "caseworker", PASSWORD)
    secret, _codes = enrol(runtime)
    now = runtime.now() + timedelta(seconds=30)
    code = pyotp.TOTP(secret).at(now)
    second: dict[str, Any] = {}

    def other_sign_in() -> None:
        try:
            second["ok"] = check(runtime, code, at=now)
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            second["error"] = exc

    with runtime.db.write() as session:
        assert sf.verify(session, runtime, find_user(session, "anna"), code, now)
        session.flush()
        thread = threading.Thread(target=other_sign_in)
        thread.start()
        thread.join(timeout=1.5)  # it waits for this transaction (or, unlocked, has already read)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert second == {"ok": False}
