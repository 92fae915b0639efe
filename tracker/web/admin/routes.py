"""User management and organization settings, for admins."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from tracker.auth.users import UserError
from tracker.services import users_admin
from tracker.web.admin.forms import ButtonForm, ChangeUserForm, NewUserForm, ResetPasswordForm, SettingsForm
from tracker.web.messages import translate
from tracker.web.security import client_address, runtime

bp = Blueprint("web_admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _admins_only() -> Any:
    if current_user.role != "admin":
        abort(403)
    return None


@bp.route("/users", methods=["GET", "POST"])
def users() -> Any:
    form = NewUserForm()
    status = 200
    if form.validate_on_submit():
        try:
            users_admin.add_user(
                runtime(),
                current_user.actor,
                form.username.data or "",
                form.role.data,
                form.password.data or "",
                form.email.data,
                client_address(),
            )
        except UserError as exc:
            form.username.errors = [translate(str(exc))]
            status = 422
        else:
            flash(_("User %(name)s was created.", name=(form.username.data or "").strip()), "info")
            return redirect(url_for("web_admin.users"))
    elif form.is_submitted():
        status = 422
    listing = users_admin.list_users(runtime(), current_user.actor)
    return render_template("admin/users.html", users=listing, form=form), status


def _user_page(user_id: int, change: ChangeUserForm | None = None, status: int = 200) -> Any:
    if user_id > 2**31:
        abort(404)
    user = users_admin.get_user(runtime(), current_user.actor, user_id)
    if change is None:
        change = ChangeUserForm(data={"role": user.role, "email": user.email or "", "active": user.active})
    return render_template(
        "admin/user.html",
        user=user,
        change=change,
        password=ResetPasswordForm(),
        button=ButtonForm(),
    ), status


@bp.get("/users/<int:user_id>")
def user(user_id: int) -> Any:
    return _user_page(user_id)


@bp.post("/users/<int:user_id>")
def change(user_id: int) -> Any:
    form = ChangeUserForm()
    if not form.validate_on_submit():
        return _user_page(user_id, form, 422)
    try:
        users_admin.change_user(
            runtime(),
            current_user.actor,
            user_id,
            role=form.role.data,
            active=bool(form.active.data),
            email=form.email.data,
            address=client_address(),
        )
    except UserError as exc:
        form.role.errors = [translate(str(exc))]
        return _user_page(user_id, form, 422)
    flash(_("The user was changed."), "info")
    return redirect(url_for("web_admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/password")
def reset_password(user_id: int) -> Any:
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            users_admin.reset_password(
                runtime(), current_user.actor, user_id, form.password.data or "", client_address()
            )
        except UserError as exc:
            flash(translate(str(exc)), "error")
        else:
            flash(
                _(
                    "The password was reset; the user's open sessions have ended "
                    "and their API tokens were revoked."
                ),
                "info",
            )
    else:
        flash(_("Type the new password."), "error")
    return redirect(url_for("web_admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/second-factor")
def reset_second_factor(user_id: int) -> Any:
    if ButtonForm().validate_on_submit():
        users_admin.reset_second_factor(runtime(), current_user.actor, user_id, client_address())
        flash(_("The user's second factor is off."), "info")
    return redirect(url_for("web_admin.user", user_id=user_id))


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> Any:
    form = SettingsForm()
    if form.validate_on_submit():
        users_admin.set_second_factor_roles(
            runtime(), current_user.actor, set(form.second_factor_roles.data or []), client_address()
        )
        flash(_("The settings were saved."), "info")
        return redirect(url_for("web_admin.settings"))
    if not form.is_submitted():
        form.second_factor_roles.data = sorted(users_admin.second_factor_roles(runtime()))
    return render_template("admin/settings.html", form=form)
