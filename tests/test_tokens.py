"""API tokens: named, with an expiry, listed without their secret, revoked; the API refuses dead ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, Json

from tracker.auth.tables import AuditRow, TokenRow
from tracker.auth.users import Actor, UserError, create_user
from tracker.cli import cli
from tracker.services import tokens
from tracker.services.runtime import Forbidden

ADMIN = Actor("ada", "admin")


@pytest.fixture
def anna(rt: Any) -> str:
    with rt.db.write() as session:
        create_user(session, "anna", "caseworker", PASSWORD)
    return "anna"


def api_status(app: Any, token: str) -> int:
    return int(Json(app.test_client(), token).get("/cases").status_code)


def test_a_named_token_with_an_expiry_is_listed_without_its_secret_and_can_be_revoked(
    app: Any, rt: Any, anna: str
) -> None:
    info, secret = tokens.create_token(rt, ADMIN, anna, "  laptop sync ", 30, address="10.0.0.7")
    assert secret.startswith("trk_") and api_status(app, secret) == 200
    assert info.name == "laptop sync" and info.state == "active"
    assert info.expires_at is not None
    assert timedelta(days=29, hours=23) < info.expires_at - info.created_at <= timedelta(days=30, seconds=5)
    other, forever = tokens.create_token(rt, ADMIN, anna)

    listed = tokens.list_tokens(rt, Actor(anna, "caseworker"), anna)
    assert [t.id for t in listed] == [other.id, info.id]  # newest first
    assert listed[0].expires_at is None and listed[0].name is None
    assert secret not in repr(listed) and forever not in repr(listed)
    with rt.db.read() as session:
        stored = set(session.scalars(sa.select(TokenRow.token_hash)))
    assert secret not in stored and forever not in stored

    revoked = tokens.revoke_token(rt, ADMIN, anna, info.id)
    assert revoked.state == "revoked" and api_status(app, secret) == 401
    assert api_status(app, forever) == 200  # only that one token stops working
    with pytest.raises(UserError, match="already revoked"):
        tokens.revoke_token(rt, ADMIN, anna, info.id)
    with rt.db.read() as session:
        actions = [(r.action, r.target, r.address) for r in session.scalars(sa.select(AuditRow))]
    assert ("token_created", anna, "10.0.0.7") in actions and ("token_revoked", anna, None) in actions


def test_an_expired_token_is_refused_by_the_api(app: Any, rt: Any, anna: str) -> None:
    real_clock = rt.clock
    rt.clock = lambda: datetime.now(UTC) - timedelta(days=2)
    try:
        _info, secret = tokens.create_token(rt, ADMIN, anna, "short-lived", expires_days=1)
    finally:
        rt.clock = real_clock
    assert api_status(app, secret) == 401
    assert tokens.list_tokens(rt, ADMIN, anna)[0].state == "expired"
    _info, fresh = tokens.create_token(rt, ADMIN, anna, expires_days=1)
    assert api_status(app, fresh) == 200


def test_users_manage_only_their_own_tokens_and_bad_requests_say_what_is_wrong(
    app: Any, rt: Any, anna: str
) -> None:
    with rt.db.write() as session:
        create_user(session, "boris", "caseworker", PASSWORD)
    mine, _secret = tokens.create_token(rt, Actor("boris", "caseworker"), "boris", "phone")
    with pytest.raises(Forbidden):
        tokens.list_tokens(rt, Actor(anna, "caseworker"), "boris")
    with pytest.raises(Forbidden):
        tokens.revoke_token(rt, Actor(anna, "caseworker"), "boris", mine.id)
    with pytest.raises(UserError, match="anna has no token"):
        tokens.revoke_token(rt, ADMIN, anna, mine.id)
    with pytest.raises(UserError, match="between 1 and 3650 days"):
        tokens.create_token(rt, ADMIN, anna, expires_days=0)
    with pytest.raises(UserError, match="too long"):
        tokens.create_token(rt, ADMIN, anna, "x" * 101)
    with pytest.raises(UserError, match="no such user: nobody"):
        tokens.list_tokens(rt, ADMIN, "nobody")


def test_token_commands(app: Any, anna: str) -> None:
    runner = app.test_cli_runner()
    plain = runner.invoke(cli, ["user", "token", anna])
    assert plain.exit_code == 0 and plain.output.count("\n") == 1 and plain.output.startswith("trk_")
    named = runner.invoke(cli, ["user", "token", anna, "--label", "ci runner", "--expires-days", "7"])
    secret = named.output.strip()
    assert api_status(app, secret) == 200

    listing = runner.invoke(cli, ["user", "tokens", anna]).output.splitlines()
    newest = listing[0].split("\t")
    assert newest[1] == "ci runner" and newest[4] == "active" and newest[3] != "never"
    assert listing[1].split("\t")[3:] == ["never", "active"]
    assert secret not in "".join(listing)

    revoked = runner.invoke(cli, ["user", "revoke-token", anna, newest[0]])
    assert revoked.exit_code == 0, revoked.output
    assert api_status(app, secret) == 401
    assert runner.invoke(cli, ["user", "tokens", anna]).output.splitlines()[0].endswith("\trevoked")

    again = runner.invoke(cli, ["user", "revoke-token", anna, newest[0]])
    assert again.exit_code == 1 and "already revoked" in again.output and "Traceback" not in again.output
    unknown = runner.invoke(cli, ["user", "tokens", "nobody"])
    assert unknown.exit_code == 1 and "no such user: nobody" in unknown.output
    assert runner.invoke(cli, ["user", "token", anna, "--expires-days", "0"]).exit_code == 2
