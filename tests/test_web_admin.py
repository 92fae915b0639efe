"""User management and settings for admins."""

from __future__ import annotations

import re

import sqlalchemy as sa
from browser.webkit import PASSWORD, post_form, sign_in, signed_in, text

from tracker.auth.tables import AuditRow, UserRow


def user_id(app, name: str) -> int:
    with app.extensions["tracker"].db.read() as session:
        return int(session.scalar(sa.select(UserRow.id).where(UserRow.username == name)))


def audit(app) -> list[tuple[str, str | None]]:
    with app.extensions["tracker"].db.read() as session:
        return [(a, t) for a, t in session.execute(sa.select(AuditRow.action, AuditRow.target))]


def test_admins_create_change_and_disable_users(sqlite_app):
    ada = signed_in(sqlite_app, "ada", "admin")
    short = post_form(ada, "/admin/users", {"username": "cara", "role": "caseworker", "password": "short"})
    assert short.status_code == 422 and "at least 10 characters" in text(short)
    bad_name = post_form(
        ada, "/admin/users", {"username": "Cara!", "role": "caseworker", "password": "x" * 12}
    )
    assert bad_name.status_code == 422 and "invalid user name" in text(bad_name)
    created = post_form(ada, "/admin/users", {"username": "cara", "role": "caseworker", "password": "x" * 12})
    assert created.status_code == 302
    assert ">cara</a>" in text(ada.get("/admin/users"))
    again = post_form(ada, "/admin/users", {"username": "cara", "role": "auditor", "password": "x" * 12})
    assert "already exists" in text(again)
    cara = sqlite_app.test_client()
    assert sign_in(cara, "cara", "x" * 12).status_code == 302
    uid = user_id(sqlite_app, "cara")
    page = f"/admin/users/{uid}"
    changed = post_form(ada, page, {"role": "supervisor", "email": "cara@example.org", "active": "y"})
    assert changed.status_code == 302
    assert "Overdue deadlines of all cases" in text(cara.get("/"))  # the new role counts at once
    disabled = post_form(ada, page, {"role": "supervisor", "email": ""})
    assert disabled.status_code == 302
    assert cara.get("/").status_code == 302  # a disabled account's session ends
    assert sign_in(sqlite_app.test_client(), "cara", "x" * 12).status_code == 401
    actions = audit(sqlite_app)
    assert ("user_created", "cara") in actions and actions.count(("user_changed", "cara")) == 2


def test_admins_cannot_lock_themselves_out(sqlite_app):
    ada = signed_in(sqlite_app, "ada", "admin")
    page = f"/admin/users/{user_id(sqlite_app, 'ada')}"
    refused = post_form(ada, page, {"role": "caseworker", "active": "y"})
    assert refused.status_code == 422 and "your own role" in text(refused)
    assert ada.get("/admin/users").status_code == 200


def test_only_admins_manage_users_and_settings(sqlite_app):
    sam = signed_in(sqlite_app, "sam", "supervisor")
    for path in ("/admin/users", "/admin/settings", "/admin/users/1"):
        assert sam.get(path).status_code == 403
    assert sam.post("/admin/settings", data={}).status_code in (400, 403)
    assert sqlite_app.test_client().get("/admin/users").status_code == 302  # sign in first


def test_admins_reset_a_lost_second_factor(sqlite_app):
    import pyotp

    anna = signed_in(sqlite_app, "anna", "caseworker")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', text(anna.get("/account/second-factor"))).group(1)
    post_form(anna, "/account/second-factor", {"code": pyotp.TOTP(secret).now()})
    assert sign_in(sqlite_app.test_client(), "anna").status_code == 401
    ada = signed_in(sqlite_app, "ada", "admin")
    uid = user_id(sqlite_app, "anna")
    assert "Turn the second factor off" in text(ada.get(f"/admin/users/{uid}"))
    done = post_form(ada, f"/admin/users/{uid}/second-factor", {}, page=f"/admin/users/{uid}")
    assert done.status_code == 302
    assert sign_in(sqlite_app.test_client(), "anna").status_code == 302
    assert ("second_factor_disabled", "anna") in audit(sqlite_app)


def test_a_calendar_address_is_shown_once(sqlite_app):
    anna = signed_in(sqlite_app, "anna", "caseworker")
    page = text(post_form(anna, "/account/calendar", {"action": "new"}, page="/account"))
    url = re.search(r'<code class="wrap">([^<]+/calendar/(cal_[^<]+)\.ics)</code>', page)
    assert url
    feed = sqlite_app.test_client().get(f"/calendar/{url.group(2)}.ics")
    assert feed.status_code == 200 and b"BEGIN:VCALENDAR" in feed.data
    account = text(anna.get("/account"))
    assert url.group(2) not in account and "A calendar address is active." in account
    post_form(anna, "/account/calendar", {"action": "stop"}, page="/account")
    assert sqlite_app.test_client().get(f"/calendar/{url.group(2)}.ics").status_code == 404


def test_users_change_their_own_password(sqlite_app):
    anna = signed_in(sqlite_app, "anna", "caseworker")
    wrong = post_form(
        anna, "/account/password", {"current": "not-it-at-all", "new": "another-password"}, page="/account"
    )
    assert wrong.status_code == 302 and "not right" in text(anna.get("/account"))
    done = post_form(
        anna, "/account/password", {"current": PASSWORD, "new": "another-password"}, page="/account"
    )
    assert done.status_code == 302 and anna.get("/").status_code == 302  # sign in again
    assert sign_in(sqlite_app.test_client(), "anna", "another-password").status_code == 302
