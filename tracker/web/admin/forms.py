"""Forms of user management and settings."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from tracker.auth.tables import ROLES
from tracker.web.labels import ROLES as ROLE_LABELS


def _roles() -> list[tuple[str, str]]:
    return [(r, str(ROLE_LABELS[r])) for r in ROLES]


class NewUserForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=40)])
    role = SelectField(_l("Role"), validators=[DataRequired()])
    password = PasswordField(
        _l("Password (at least 10 characters)"), validators=[DataRequired(), Length(max=1000)]
    )
    email = EmailField(_l("E-mail for alerts (optional)"), validators=[Optional(), Length(max=200)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = _roles()


class ChangeUserForm(FlaskForm):
    role = SelectField(_l("Role"), validators=[DataRequired()])
    email = EmailField(_l("E-mail for alerts (optional)"), validators=[Optional(), Length(max=200)])
    active = BooleanField(_l("May sign in"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = _roles()


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password (at least 10 characters)"), validators=[DataRequired(), Length(max=1000)]
    )


class ButtonForm(FlaskForm):
    """Carries only the CSRF token."""


class SettingsForm(FlaskForm):
    second_factor_roles = SelectMultipleField(
        _l("Roles that must use a second factor"),
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
        validators=[Optional()],
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.second_factor_roles.choices = _roles()
