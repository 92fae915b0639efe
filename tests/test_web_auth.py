"""Sign-in, sessions, CSRF, rate limits, second factor and security headers of the web UI."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa
from browser.webkit import PASSWORD, csrf_token, make_user, post_form, sign_in, signed_in, text

from tracker.auth.tables import AuditRow, UserRow
from tracker.auth.users import issue_token


def audit_actions(app, actor: str | None = None) -> list[str]:
    with app.extensions["tracker"].db.read() as session:
        query = sa.select(AuditRow.action).order_by(AuditRow.id)
        if actor:
            query = query.where(AuditRow.actor == actor)
        return list(session.scalars(query))


def test_sign_in_sign_out_and_the_audit_log(sqlite_app):
    client = signed_in(sqlite_app, "anna", "caseworker")
    page = client.get("/")
    assert page.status_code == 200 and "anna" in text(page)
    assert client.post("/logout").status_code == 400  # no CSRF token: refused
    assert client.get("/").status_code == 200
    response = post_form(client, "/logout", {}, page="/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get("/").status_code == 302
    assert audit_actions(sqlite_app, "anna") == ["signin", "signout"]


def test_wrong_password_is_refused_and_recorded(sqlite_app):
    make_user(sqlite_app, "anna", "caseworker")
    client = sqlite_app.test_client()
    response = sign_in(client, "anna", "not-the-password")
    assert response.status_code == 401
    assert "Wrong user name, password or code." in text(response)
    assert 'value="anna"' in text(response)  # the user name is kept, the password is not
    assert "not-the-password" not in text(response)
    unknown = sign_in(client, "nobody", "whatever-it-is")
    assert text(unknown).count("Wrong user name, password or code.") == 1  # as for a wrong password
    assert audit_actions(sqlite_app) == ["signin_failed", "signin_failed"]


def test_a_failed_sign_in_names_in_the_audit_log_only_an_account_that_exists(sqlite_app):
    make_user(sqlite_app, "anna", "caseworker")
    client = sqlite_app.test_client()
    assert sign_in(client, "Anna ", "not-the-password").status_code == 401
    assert sign_in(client, "Sekret-Passw0rd!", "x").status_code == 401  # a password in the name box
    limit = sqlite_app.config["SIGNIN_MAX_ATTEMPTS"]
    for _ in range(limit):
        sign_in(client, "Sekret-Passw0rd!", "x")
    assert sign_in(client, "Sekret-Passw0rd!", "x").status_code == 429  # still throttled by it
    with sqlite_app.extensions["tracker"].db.read() as session:
        rows = session.scalars(sa.select(AuditRow).order_by(AuditRow.id)).all()
        recorded = [(r.actor, r.target, r.detail or "") for r in rows]
    assert recorded[0][:2] == ("anna", "anna")
    assert all(r[:2] == ("unknown", "unknown") for r in recorded[1:]) and len(recorded) > 2
    assert not any("sekret" in " ".join(r).lower() for r in recorded)


def test_forms_without_their_csrf_token_are_refused(sqlite_app, make_user):
    client = signed_in(sqlite_app, "ada", "admin")
    assert client.post("/login", data={"username": "ada", "password": PASSWORD}).status_code in (302, 400)
    fresh = sqlite_app.test_client()
    assert fresh.post("/login", data={"username": "ada", "password": PASSWORD}).status_code == 400
    response = client.post("/admin/users", data={"username": "eve", "role": "admin", "password": "x" * 12})
    assert response.status_code == 400
    assert "The form has expired" in text(response)
    with sqlite_app.extensions["tracker"].db.read() as session:
        assert session.scalar(sa.select(UserRow).where(UserRow.username == "eve")) is None
    # The token-authenticated API needs no CSRF token.
    token = make_user("api-user", "caseworker", sqlite_app)
    api = sqlite_app.test_client().post(
        "/api/v1/cases",
        json={"pseudonym": "Owl", "citizenship": "RU", "category": "other"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 201


def _check_headers(response) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    if response.mimetype == "text/html":
        assert response.headers.get("Cache-Control") == "no-store"
        # No inline script anywhere: every <script> loads a file.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text(response))


def test_security_headers_on_every_page(sqlite_app):
    anonymous = sqlite_app.test_client()
    for path in ("/login", "/", "/cases", "/no-such-page", "/assets/style.css", "/assets/app.js"):
        _check_headers(anonymous.get(path))
    client = signed_in(sqlite_app, "ada", "admin")
    for path in (
        "/",
        "/cases",
        "/cases/new",
        "/alerts",
        "/account",
        "/account/second-factor",
        "/admin/users",
        "/admin/settings",
        "/audit",
        f"/cases/{'0' * 8}-0000-0000-0000-{'0' * 12}",
        "/no-such-page",
    ):
        response = client.get(path)
        assert response.status_code < 500, path
        _check_headers(response)
    _check_headers(client.post("/logout"))  # even a refused form


def test_security_headers_on_a_case_its_forms_its_audit_and_a_user_page(sqlite_app):
    client = signed_in(sqlite_app, "ada", "admin")
    opened = post_form(
        client,
        "/cases/new",
        {"occurred_on": "2024-02-01", "f-pseudonym": "Heron", "f-citizenship": "RU", "f-category": "other"},
    )
    assert opened.status_code == 302
    case = opened.headers["Location"]
    make_user(sqlite_app, "anna", "caseworker")
    with sqlite_app.extensions["tracker"].db.read() as session:
        anna = session.scalar(sa.select(UserRow.id).where(UserRow.username == "anna"))
    refused = client.post(f"{case}/events/new", data={"type": "note_added", "occurred_on": "x"})
    for response in (
        client.get(case),
        client.get(f"{case}?as_of=2024-02-02&lang=ru"),
        client.get(f"{case}/events/new?type=note_added"),
        client.get(f"{case}/events/new"),
        post_form(
            client, f"{case}/events/new", {"type": "note_added"}, page=f"{case}/events/new?type=note_added"
        ),
        client.get(f"{case}/audit"),
        client.get(f"/admin/users/{anna}"),
        refused,
    ):
        assert response.status_code < 500, response.request.path
        assert response.status_code != 404, response.request.path
        _check_headers(response)


def test_session_cookie_is_httponly_samesite_and_secure_over_https(sqlite_app):
    make_user(sqlite_app, "anna", "caseworker")
    plain = sign_in(sqlite_app.test_client(), "anna")
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = sign_in(sqlite_app.test_client(), "anna", base_url="https://tracker.example")
    assert "Secure" in secure.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in secure.headers


def test_a_session_ends_after_inactivity(sqlite_app):
    client = signed_in(sqlite_app, "anna", "caseworker")
    idle = sqlite_app.config["SESSION_IDLE_MINUTES"] * 60
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - idle + 60
    assert client.get("/").status_code == 200  # active recently enough
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - idle - 60
    response = client.get("/cases")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "without activity" in text(client.get("/login"))
    assert client.get("/").status_code == 302
    assert audit_actions(sqlite_app, "anna") == ["signin", "signout"]


def test_next_only_leads_to_this_site(sqlite_app):
    make_user(sqlite_app, "anna", "caseworker")
    client = sqlite_app.test_client()
    for target, expected in (("/cases", "/cases"), ("//evil.example/x", "/"), ("https://evil.example", "/")):
        page = text(client.get(f"/login?next={target}"))
        response = client.post(
            "/login",
            data={"username": "anna", "password": PASSWORD, "next": target, "csrf_token": csrf_token(page)},
        )
        assert response.headers["Location"] == expected
        post_form(client, "/logout", {}, page="/")


def _enrol(client) -> tuple[str, list[str]]:
    page = text(client.get("/account/second-factor"))
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert "<svg" in page  # the QR code, drawn on the server
    done = post_form(client, "/account/second-factor", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", text(done))
    assert len(codes) == 10
    return secret, codes


def test_second_factor_enrolment_and_sign_in_with_a_code(sqlite_app):
    client = signed_in(sqlite_app, "anna", "caseworker")
    wrong = post_form(client, "/account/second-factor", {"code": "000000"})
    assert wrong.status_code == 400 and "This code is not right" in text(wrong)
    secret, codes = _enrol(client)
    post_form(client, "/logout", {}, page="/")
    fresh = sqlite_app.test_client()
    no_code = sign_in(fresh, "anna")
    assert no_code.status_code == 401  # the password alone is not enough now
    wrong_code = sign_in(fresh, "anna", code="123456")
    assert wrong_code.status_code == 401
    wrong_password = sign_in(fresh, "anna", "not-the-password", code="123456")
    # The same answer whether the password or the code was wrong: it does not confirm a password.
    flashes = [re.findall(r'class="flash error"[^>]*>([^<]*)<', text(r)) for r in (no_code, wrong_code)]
    assert flashes == [re.findall(r'class="flash error"[^>]*>([^<]*)<', text(wrong_password))] * 2
    assert flashes[0] == ["Wrong user name, password or code."]
    # The code that confirmed the enrolment is spent: the next one (30 s later) signs in, once.
    assert sign_in(fresh, "anna", code=pyotp.TOTP(secret).now()).status_code == 401
    rt = sqlite_app.extensions["tracker"]
    later = rt.now() + timedelta(seconds=30)
    rt.clock = lambda: later
    assert sign_in(fresh, "anna", code=pyotp.TOTP(secret).at(later)).status_code == 302
    replay = sqlite_app.test_client()
    replay.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert sign_in(replay, "anna", code=pyotp.TOTP(secret).at(later)).status_code == 401
    other = sqlite_app.test_client()
    assert sign_in(other, "anna", code=codes[0]).status_code == 302  # a recovery code, once
    assert sign_in(sqlite_app.test_client(), "anna", code=codes[0]).status_code == 401
    actions = audit_actions(sqlite_app, "anna")
    assert "second_factor_enabled" in actions and actions.count("signin_failed") == 6


def test_a_role_that_requires_a_second_factor_enrols_first(sqlite_app):
    admin = signed_in(sqlite_app, "ada", "admin")
    response = post_form(admin, "/admin/settings", {"second_factor_roles": ["caseworker"]})
    assert response.status_code == 302
    assert "setting_changed" in audit_actions(sqlite_app, "ada")
    client = signed_in_without_check(sqlite_app, "anna")
    assert client.get("/").headers["Location"] == "/account/second-factor"
    assert client.get("/cases").status_code == 302
    assert "Your role requires a second factor" in text(client.get("/account/second-factor"))
    _enrol(client)
    assert client.get("/cases").status_code == 200


def signed_in_without_check(app, name):
    make_user(app, name, "caseworker")
    client = app.test_client()
    response = sign_in(client, name)
    assert response.headers["Location"] == "/account/second-factor"
    return client


def test_a_password_reset_ends_the_users_sessions_and_revokes_their_api_tokens(sqlite_app):
    anna = signed_in(sqlite_app, "anna", "caseworker")
    admin = signed_in(sqlite_app, "ada", "admin")
    rt = sqlite_app.extensions["tracker"]
    with rt.db.write() as session:
        anna_id = session.scalar(sa.select(UserRow.id).where(UserRow.username == "anna"))
        tokens = [issue_token(session, "anna"), issue_token(session, "anna", "laptop")]
        other = issue_token(session, "ada")
    api = sqlite_app.test_client()

    def answer(token):  # type: ignore[no-untyped-def]
        return api.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code

    assert [answer(t) for t in tokens] == [200, 200]
    response = post_form(
        admin,
        f"/admin/users/{anna_id}/password",
        {"password": "a-brand-new-password"},
        page=f"/admin/users/{anna_id}",
    )
    assert response.status_code == 302
    assert "their API tokens were revoked" in text(admin.get(response.headers["Location"]))
    assert [answer(t) for t in tokens] == [401, 401]
    assert answer(other) == 200  # only the user's own tokens
    assert anna.get("/").status_code == 302
    assert sign_in(sqlite_app.test_client(), "anna", "a-brand-new-password").status_code == 302
    assert "password_reset" in audit_actions(sqlite_app, "ada")


@pytest.mark.parametrize("lang, word", [("en", "Sign in"), ("ru", "Войти")])
def test_the_sign_in_page_follows_the_browser_language(sqlite_app, lang, word):
    page = sqlite_app.test_client().get("/login", headers={"Accept-Language": f"{lang},en;q=0.5"})
    assert f'<html lang="{lang}">' in text(page) and word in text(page)
