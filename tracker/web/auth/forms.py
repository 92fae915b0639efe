"""Forms of sign-in and of the user's own account."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1000)])
    code = StringField(
        _l("Code from your authenticator app (or a recovery code), if you use one"),
        validators=[Optional(), Length(max=32)],
    )
    next = HiddenField()


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1000)])
    new = PasswordField(
        _l("New password (at least 10 characters)"), validators=[DataRequired(), Length(max=1000)]
    )


class EnrolForm(FlaskForm):
    code = StringField(_l("The 6-digit code your app shows now"), validators=[DataRequired(), Length(max=12)])


class DisableForm(FlaskForm):
    password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1000)])


class LogoutForm(FlaskForm):
    """Carries only the CSRF token: signing out is a POST."""
