"""Sign-in limits slow a guesser down without locking the account's owner out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from browser.webkit import PASSWORD, make_user, post_form, sign_in, text

from tracker.auth.tables import SigninAttemptRow
from tracker.services import signin

FREE = 5  # SIGNIN_MAX_ATTEMPTS of the default settings


def browser(app: Any, address: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def owners_browser(app: Any, name: str, address: str) -> Any:
    """A browser the owner signed in with before (it holds the account's device cookie)."""
    client = browser(app, address)
    assert sign_in(client, name).status_code == 302
    post_form(client, "/logout", {}, page="/")
    return client


def attempt(rt: Any, name: str, password: str, address: str, device: str | None = None) -> Any:
    return signin.sign_in(rt, name, password, None, address, device)


@pytest.fixture
def rt(app: Any) -> Any:
    for name, role in (("otto", "auditor"), ("ada", "admin"), ("boris", "caseworker")):
        make_user(app, name, role)
    return app.extensions["tracker"]


def test_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(app: Any, rt: Any) -> None:
    otto = owners_browser(app, "otto", "10.0.0.5")
    attacker = browser(app, "10.6.6.6")
    codes = [sign_in(attacker, "otto", f"wrong-password-{i}").status_code for i in range(20)]
    assert codes[:FREE] == [401] * FREE and codes[FREE:] == [429] * (20 - FREE)
    refused = sign_in(attacker, "otto")  # the guesser waits, even with the right password
    assert refused.status_code == 429 and "Too many failed sign-ins" in text(refused)
    assert 0 < int(refused.headers["Retry-After"]) <= app.config["SIGNIN_WINDOW_SECONDS"] + 1
    assert sign_in(otto, "otto").status_code == 302  # the owner's browser is not slowed down
    assert sign_in(browser(app, "10.0.0.7"), "otto").status_code == 302  # nor a new one elsewhere
    assert sign_in(browser(app, "10.6.6.6"), "boris").status_code == 302  # nor another account there


def test_the_delay_doubles_with_each_failure_and_ends_with_the_window(rt: Any) -> None:
    start = rt.now()
    rt.clock = lambda: start
    assert [attempt(rt, "otto", "wrong", "10.1.1.1").problem for _ in range(FREE)] == ["invalid"] * FREE
    waits = []
    for _ in range(4):
        result = attempt(rt, "otto", PASSWORD, "10.1.1.1")
        assert result.problem == "throttled"
        waits.append(result.retry_after)
        moment = rt.now() + timedelta(seconds=result.retry_after)
        rt.clock = lambda moment=moment: moment
        assert attempt(rt, "otto", "wrong", "10.1.1.1").problem == "invalid"  # one more guess, then wait
    assert waits == sorted(waits) and waits[-1] >= 4 * waits[0] > 0
    later = rt.now() + timedelta(seconds=rt.settings["SIGNIN_WINDOW_SECONDS"] + 1)
    rt.clock = lambda: later
    assert attempt(rt, "otto", PASSWORD, "10.1.1.1").user is not None


def test_an_account_guessed_from_many_addresses_stays_open_to_its_known_addresses_and_devices(
    app: Any, rt: Any
) -> None:
    otto = owners_browser(app, "otto", "10.0.0.5")
    cap = FREE * 10
    for n in range(cap):
        assert attempt(rt, "otto", "wrong", f"192.0.2.{n}").problem == "invalid"
    assert attempt(rt, "otto", PASSWORD, "198.51.100.1").problem == "throttled"  # a new address waits
    assert attempt(rt, "otto", PASSWORD, "10.0.0.5").user is not None  # an address otto used before
    assert sign_in(otto, "otto").status_code == 302  # and otto's browser


def test_an_office_behind_one_address_is_not_locked_out_by_a_few_typos(app: Any, rt: Any) -> None:
    for n in range(FREE * 4):
        attempt(rt, f"someone{n % 7}", "wrong", "203.0.113.9")
    assert attempt(rt, "boris", PASSWORD, "203.0.113.9").user is not None
    ada = owners_browser(app, "ada", "203.0.113.9")
    for n in range(FREE * 20):
        attempt(rt, f"guess{n}", "wrong", "203.0.113.9")
    assert attempt(rt, "otto", PASSWORD, "203.0.113.9").problem == "throttled"  # a flood from there
    assert sign_in(ada, "ada").status_code == 302  # an admin's own browser still signs in


def test_a_known_device_is_slowed_down_by_its_own_failures(app: Any, rt: Any) -> None:
    start = rt.now()
    rt.clock = lambda: start
    for _ in range(FREE):
        assert attempt(rt, "otto", "wrong", "10.0.0.5", device="d1").problem == "invalid"
    assert attempt(rt, "otto", PASSWORD, "10.0.0.5", device="d1").problem == "throttled"
    assert attempt(rt, "otto", PASSWORD, "10.0.0.5", device="d2").user is not None


def test_a_forged_device_cookie_counts_for_nothing(app: Any, rt: Any) -> None:
    attacker = browser(app, "10.6.6.6")
    for n in range(FREE):
        sign_in(attacker, "otto", f"wrong-password-{n}")
    attacker.set_cookie("tracker_device", "eyJvdHRvIjoiZDEifQ.forged.signature", path="/login")
    assert sign_in(attacker, "otto").status_code == 429


def test_what_was_typed_as_a_user_name_is_not_kept(app: Any, rt: Any) -> None:
    attempt(rt, "Sekret-Passw0rd!", "x", "10.0.0.1")
    attempt(rt, "otto", PASSWORD, "10.0.0.1")
    with rt.db.read() as session:
        kept = list(session.scalars(sa.select(SigninAttemptRow.username)))
    assert len(kept) == 2 and not any("sekret" in k or "otto" in k for k in kept)


def test_a_nul_or_control_character_in_the_user_name_is_refused_cleanly(app: Any, rt: Any) -> None:
    client = browser(app, "10.0.0.1")
    for name in ("ot\x00to", "otto\x00", "ot\x1bto", "ot\u202eto"):
        response = sign_in(client, name)
        assert response.status_code in (400, 401), name
        assert "Wrong user name" in text(response) or "not allowed" in text(response)
    assert attempt(rt, "ot\x00to", PASSWORD, "10.0.0.1\x00").problem == "invalid"


def test_no_typed_user_name_or_password_reaches_the_logs(
    app: Any, rt: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    client = browser(app, "10.0.0.1")
    for name in ("Sekret-Passw0rd!", "sekret\x00name", "otto"):
        sign_in(client, name, "Typed-Passw0rd!")
    logged = "\n".join(r.getMessage() + repr(r.args) + str(r.exc_info) for r in caplog.records)
    assert "sekret" not in logged.lower() and "Typed-Passw0rd" not in logged


def test_a_database_error_never_shows_the_values_of_its_query(db_url: str) -> None:
    from sqlalchemy.exc import DBAPIError

    from tracker.db import make_engine

    engine = make_engine(db_url)
    try:
        with pytest.raises(DBAPIError) as error, engine.connect() as conn:
            conn.execute(sa.text("SELECT * FROM users WHERE no_such_column = :typed"), {"typed": "Sekret-1"})
    finally:
        engine.dispose()
    assert "Sekret-1" not in str(error.value)
