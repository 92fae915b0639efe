"""Sign-in, sign-out, and the user's own account page (language, password, second factor)."""

from __future__ import annotations

import math
import time
from typing import Any

import segno
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup

from tracker.auth.users import UserError
from tracker.clock import zone_names
from tracker.services import account, signin
from tracker.services import calendar as calendar_feed
from tracker.web.auth import devices
from tracker.web.auth.forms import DisableForm, EnrolForm, LoginForm, PasswordForm
from tracker.web.auth.redirects import safe_next
from tracker.web.messages import translate
from tracker.web.security import WebUser, client_address, runtime

bp = Blueprint("web_auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("web_dashboard.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status, headers = 200, {}
    if form.validate_on_submit():
        device = devices.device_for(form.username.data or "")
        result = signin.sign_in(
            runtime(),
            form.username.data or "",
            form.password.data or "",
            form.code.data or None,
            client_address(),
            device,
        )
        if result.user is not None:
            lang, chosen = session.get("lang"), session.get("lang_chosen")
            session.clear()  # a fresh session on sign-in: nothing from before carries over
            if lang:
                session["lang"] = lang
            if chosen and lang in account.LOCALES and lang != result.user.locale:
                # The language chosen on the sign-in page wins over the saved one, and is saved.
                account.set_locale(runtime(), result.user.id, lang)
            login_user(WebUser(result.user))
            session["seen"] = session["since"] = int(time.time())
            session["username"] = result.user.username
            target = (
                url_for("web_auth.second_factor") if result.user.must_enrol else safe_next(form.next.data)
            )
            response = redirect(target)
            devices.remember(response, result.user.username, device)
            return response
        if result.problem == "throttled":
            status, headers = 429, {"Retry-After": str(result.retry_after)}
            minutes = max(1, math.ceil(result.retry_after / 60))
            flash(
                _(
                    "Too many failed sign-ins for this account or from this address. "
                    "Try again in %(minutes)s min.",
                    minutes=minutes,
                ),
                "error",
            )
        else:
            # One answer for a wrong password and a wrong or missing code: a different one for the
            # code would tell whoever guesses passwords that the password was right.
            status = 401
            flash(_("Wrong user name, password or code."), "error")
    elif request.method == "POST":
        status = 400
    form.password.data = ""
    return render_template("auth/login.html", form=form), status, headers


@bp.post("/logout")
def logout() -> Any:
    if current_user.is_authenticated:
        signin.sign_out(runtime(), current_user.username, client_address())
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."), "info")
    return redirect(url_for("web_auth.login"))


@bp.get("/account")
@login_required
def account_page() -> Any:
    return render_template(
        "auth/account.html",
        password_form=PasswordForm(),
        calendar_url=None,
        **_zones(),
    )


def _zones() -> dict[str, Any]:
    return {"zone_names": zone_names(), "organization_zone": runtime().zone.key}


@bp.post("/account/time-zone")
@login_required
def time_zone() -> Any:
    try:
        account.set_time_zone(runtime(), current_user.id, request.form.get("time_zone", "").strip())
    except UserError:
        flash(_("The time zone must be one of the list."), "error")
        form = PasswordForm()
        return render_template("auth/account.html", password_form=form, calendar_url=None, **_zones()), 422
    flash(_("Your time zone was saved."), "info")
    return redirect(url_for("web_auth.account_page"))


@bp.post("/account/calendar")
@login_required
def calendar() -> Any:
    """Make a new calendar feed address (shown once: only its hash is kept), or stop the feed."""
    rt = runtime()
    if request.form.get("action") == "stop":
        calendar_feed.revoke_token(rt, current_user.username)
        flash(_("The calendar feed was stopped."), "info")
        return redirect(url_for("web_auth.account_page"))
    token = calendar_feed.issue_token(rt, current_user.username)
    return render_template(
        "auth/account.html",
        password_form=PasswordForm(),
        calendar_url=calendar_feed.feed_url(rt, token),
        **_zones(),
    )


@bp.post("/account/password")
@login_required
def change_password() -> Any:
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            account.change_password(
                runtime(), current_user.id, form.current.data or "", form.new.data or "", client_address()
            )
        except UserError as exc:
            flash(translate(str(exc)), "error")
        else:
            # Every session of the user has ended (this one too): sign in again with the new one.
            logout_user()
            flash(
                _(
                    "Your password was changed, you were signed out everywhere and your API tokens "
                    "were revoked. Please sign in with the new one."
                ),
                "info",
            )
            return redirect(url_for("web_auth.login"))
    else:
        flash(_("Fill in both passwords."), "error")
    return redirect(url_for("web_auth.account_page"))


def _qr(uri: str) -> Markup:
    svg = segno.make(uri, error="m").svg_inline(scale=5, light="#ffffff", dark="#000000")
    return Markup(svg)  # segno writes the markup; the URI holds base32 and a user name only


@bp.route("/account/second-factor", methods=["GET", "POST"])
@login_required
def second_factor() -> Any:
    rt = runtime()
    if current_user.second_factor:
        return render_template("auth/second_factor.html", enabled=True, disable_form=DisableForm())
    form = EnrolForm()
    if request.method == "POST" and request.form.get("restart"):
        account.begin_enrolment(rt, current_user.id)
        return redirect(url_for("web_auth.second_factor"))
    pending = account.pending_enrolment(rt, current_user.id)
    if pending is None:
        pending = account.begin_enrolment(rt, current_user.id)
    uri, secret = pending
    status = 200
    if form.validate_on_submit():
        codes = account.confirm_enrolment(rt, current_user.id, form.code.data or "", client_address())
        if codes is not None:
            return render_template("auth/recovery_codes.html", codes=codes)
        form.code.errors.append(  # type: ignore[attr-defined]  # a list once the form was validated
            _("This code is not right. Check the time on your phone and try again.")
        )
        status = 400
    return render_template(
        "auth/second_factor.html", enabled=False, form=form, qr=_qr(uri), secret=secret
    ), status


@bp.post("/account/second-factor/disable")
@login_required
def disable_second_factor() -> Any:
    form = DisableForm()
    if form.validate_on_submit():
        try:
            account.disable_second_factor(
                runtime(), current_user.id, form.password.data or "", client_address()
            )
        except UserError as exc:
            flash(translate(str(exc)), "error")
        else:
            flash(_("The second factor is off."), "info")
    return redirect(url_for("web_auth.second_factor"))
