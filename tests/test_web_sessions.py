"""Sessions end on the server: a copied session cookie stops working when its session is ended."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from browser.webkit import PASSWORD, csrf_token, make_user, post_form, sign_in, signed_in, text

from tracker.auth.tables import UserRow
from tracker.auth.users import Actor
from tracker.services import users_admin

COOKIE = "tracker_session"
ADMIN = Actor("ada", "admin", 0)


def copy_of(app: Any, client: Any) -> Any:
    """Another browser holding a copy of the client's session cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def signed_in_page(client: Any) -> bool:
    return client.get("/cases").status_code == 200


def user_id(app: Any, name: str) -> int:
    with app.extensions["tracker"].db.read() as session:
        return int(session.scalar(sa.select(UserRow.id).where(UserRow.username == name)))


def test_a_copied_cookie_is_refused_after_sign_out(app: Any) -> None:
    anna = signed_in(app, "anna", "caseworker")
    thief = copy_of(app, anna)
    assert signed_in_page(thief)  # the copy works while the session lives
    assert post_form(anna, "/logout", {}, page="/").status_code == 302
    assert not signed_in_page(thief)
    assert thief.get("/cases").headers["Location"].startswith("/login")
    # It does not keep itself alive either: later requests are refused too.
    assert not signed_in_page(thief)
    # Signing in again gives a new session that works.
    assert sign_in(app.test_client(), "anna").status_code == 302


def test_a_copied_cookie_is_refused_after_deactivation_and_after_reactivation(app: Any) -> None:
    anna = signed_in(app, "anna", "caseworker")
    thief = copy_of(app, anna)
    rt = app.extensions["tracker"]
    uid = user_id(app, "anna")
    users_admin.change_user(rt, ADMIN, uid, role="caseworker", active=False, email=None, address="t")
    assert not signed_in_page(thief)
    users_admin.change_user(rt, ADMIN, uid, role="caseworker", active=True, email=None, address="t")
    assert not signed_in_page(thief)
    assert not signed_in_page(anna)
    assert sign_in(app.test_client(), "anna").status_code == 302


def test_a_copied_cookie_is_refused_after_the_user_changes_the_password(app: Any) -> None:
    anna = signed_in(app, "anna", "caseworker")
    thief = copy_of(app, anna)
    done = post_form(
        anna, "/account/password", {"current": PASSWORD, "new": "a-brand-new-password"}, page="/account"
    )
    assert done.status_code == 302 and done.headers["Location"].startswith("/login")
    assert not signed_in_page(thief)
    assert sign_in(app.test_client(), "anna", "a-brand-new-password").status_code == 302


def test_a_copied_cookie_is_refused_after_an_admin_resets_the_password(app: Any) -> None:
    anna = signed_in(app, "anna", "caseworker")
    thief = copy_of(app, anna)
    rt = app.extensions["tracker"]
    users_admin.reset_password(rt, ADMIN, user_id(app, "anna"), "a-brand-new-password", "t")
    assert not signed_in_page(thief)


def test_other_users_sessions_stay(app: Any) -> None:
    anna = signed_in(app, "anna", "caseworker")
    boris = signed_in(app, "boris", "caseworker")
    post_form(anna, "/logout", {}, page="/")
    assert signed_in_page(boris)


HOSTILE_NEXT = [
    "//evil.example/phish",
    "/%09/evil.example/phish",
    "/\t/evil.example/phish",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "https://evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    "data:text/html,x",
    " //evil.example",
    "/\r\n/evil.example",
    "/%0d%0aSet-Cookie:x=1",
    "/\n/evil.example",
    "/%0A/evil.example",
    "/\x00/evil.example",
    "/%00/evil.example",
    "///evil.example",
    "/./evil.example/../../",
    "evil.example",
    "/\u3000/evil.example",
    "/\uff0f/evil.example",
    "/cases\r\nLocation: https://evil.example",
    "/no-such-page",
    "",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_never_leads_off_the_tracker(sqlite_app: Any, target: str) -> None:
    make_user(sqlite_app, "anna", "caseworker")
    client = sqlite_app.test_client()
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={"username": "anna", "password": PASSWORD, "next": target, "csrf_token": csrf_token(text(page))},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"  # the dashboard, whatever was asked


def test_a_path_of_the_tracker_is_kept(sqlite_app: Any) -> None:
    make_user(sqlite_app, "anna", "caseworker")
    for target in ("/cases", "/cases?q=Ow%20l&page=2", "/alerts", "/cases/new"):
        client = sqlite_app.test_client()
        page = text(client.get("/login", query_string={"next": target}))
        response = client.post(
            "/login",
            data={"username": "anna", "password": PASSWORD, "next": target, "csrf_token": csrf_token(page)},
        )
        assert response.headers["Location"] == target


def api_answer(app: Any, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return int(app.test_client().get("/api/v1/cases", headers=headers).status_code)


def test_changing_ones_own_password_revokes_ones_api_tokens_and_says_so(app: Any) -> None:
    from tracker.auth.users import issue_token

    anna = signed_in(app, "anna", "caseworker")
    make_user(app, "boris", "caseworker")
    rt = app.extensions["tracker"]
    with rt.db.write() as session:
        mine, other = issue_token(session, "anna", "laptop"), issue_token(session, "boris")
    assert api_answer(app, mine) == 200
    assert "API tokens" in text(anna.get("/account"))  # the form says what a change does
    done = post_form(
        anna, "/account/password", {"current": PASSWORD, "new": "a-brand-new-password"}, page="/account"
    )
    assert "your API tokens were revoked" in text(anna.get(done.headers["Location"]))
    assert api_answer(app, mine) == 401
    assert api_answer(app, other) == 200


def test_an_admin_password_reset_stops_the_users_calendar_feed(app: Any) -> None:
    from tracker.services import calendar

    make_user(app, "anna", "caseworker")
    rt = app.extensions["tracker"]
    token = calendar.issue_token(rt, "anna")
    client = app.test_client()
    assert client.get(f"/calendar/{token}.ics").status_code == 200
    users_admin.reset_password(rt, ADMIN, user_id(app, "anna"), "a-brand-new-password", "t")
    assert client.get(f"/calendar/{token}.ics").status_code == 404


def test_a_session_ends_after_its_longest_life_even_when_kept_busy(sqlite_app: Any) -> None:
    from tracker.web.security import SESSION_MAX_HOURS

    client = signed_in(sqlite_app, "anna", "caseworker")
    assert signed_in_page(client)
    with client.session_transaction() as session:
        session["since"] -= SESSION_MAX_HOURS * 3600 - 60
    assert signed_in_page(client)  # a minute left
    with client.session_transaction() as session:
        session["since"] -= 120
    response = client.get("/cases")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert "Please sign in again" in text(client.get("/login"))
    assert not signed_in_page(client)
