"""Sessions, sign-in state, CSRF and the security headers of every answer."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, current_app, flash, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, logout_user
from flask_wtf.csrf import CSRFProtect

from tracker.clock import set_user_zone, zone_or_none
from tracker.services import signin
from tracker.services.runtime import Runtime

csrf = CSRFProtect()
login_manager = LoginManager()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Pages a user who must still enrol a second factor may open.
ENROL_OPEN = frozenset({"web_auth.second_factor", "web_auth.logout", "web.static"})


class WebUser(UserMixin):
    """The signed-in user of a request."""

    def __init__(self, user: signin.SessionUser) -> None:
        self.user = user

    def get_id(self) -> str:
        # The fingerprint changes with the password, so a reset signs out every old session.
        return f"{self.user.id}.{self.user.fingerprint}"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.user, name)


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["tracker"]
    return rt


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


@login_manager.user_loader
def _load_user(user_id: str) -> WebUser | None:
    number, _, fingerprint = user_id.partition(".")
    if not number.isdigit():
        return None
    user = signin.load_user(runtime(), int(number))
    if user is None or user.fingerprint != fingerprint:
        return None
    return WebUser(user)


def client_address() -> str:
    return (request.remote_addr or "unknown")[:64]


#: However busy, a session ends this long after its sign-in.
SESSION_MAX_HOURS = 12


def _idle_check() -> Any:
    """End a session that was idle too long, or that began more than SESSION_MAX_HOURS ago however busy
    it was kept (so a copied cookie cannot live on for good); remember this request as the latest activity."""
    if request.blueprint == "api" or request.endpoint in (None, "web.static"):
        return None
    if "_user_id" not in session:
        return None
    now = int(time.time())
    seen, since = session.get("seen"), session.get("since")
    idle = int(current_app.config.get("SESSION_IDLE_MINUTES", 30)) * 60
    if isinstance(seen, int) and now - seen > idle:
        why, message = (
            "inactivity",
            _("Your session ended after a time without activity. Please sign in again."),
        )
    elif not isinstance(since, int) or now - since >= SESSION_MAX_HOURS * 3600:
        why, message = (
            "lifetime",
            _(
                "Your session has ended: a session lasts at most %(hours)s hours. Please sign in again.",
                hours=SESSION_MAX_HOURS,
            ),
        )
    else:
        session["seen"] = now
        return None
    name = session.get("username")
    logout_user()
    session.clear()
    if name:
        signin.sign_out(runtime(), str(name), client_address(), why)
    flash(message, "info")
    return redirect(url_for("web_auth.login", next=request.full_path if request.method == "GET" else None))


def _user_zone() -> None:
    """Days and shown times of this request in the signed-in user's own time zone, if they chose one.

    Set (or cleared) on every request, so a thread never carries the zone of an earlier request on.
    """
    chosen = None
    page = request.blueprint != "api" and request.endpoint not in (None, "web.static")
    if page and current_user.is_authenticated:
        chosen = current_user.time_zone
    set_user_zone(zone_or_none(chosen))


def _enrol_gate() -> Any:
    """A user whose role requires a second factor enrols before anything else."""
    if request.blueprint == "api" or request.endpoint in ENROL_OPEN or request.endpoint is None:
        return None
    if current_user.is_authenticated and current_user.must_enrol:
        return redirect(url_for("web_auth.second_factor"))
    return None


def _headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if response.mimetype == "text/html":
        # Pages hold personal data: shared laptops must not keep them in a cache.
        headers["Cache-Control"] = "no-store"
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def init_app(app: Flask) -> None:
    """Sessions, sign-in, CSRF (not for the token-authenticated API) and headers."""
    app.session_interface = SessionInterface()
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_NAME"] = "tracker_session"
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # the session's own idle limit ends old forms
    csrf.init_app(app)
    if "api" in app.blueprints:
        csrf.exempt(app.blueprints["api"])
    login_manager.init_app(app)
    login_manager.login_view = "web_auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    app.before_request(_idle_check)
    app.before_request(_user_zone)
    app.teardown_request(lambda _exc: set_user_zone(None))
    app.before_request(_enrol_gate)
    app.after_request(_headers)
