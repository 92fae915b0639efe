"""The acknowledge button's form."""

from __future__ import annotations

from flask_wtf import FlaskForm


class AckForm(FlaskForm):
    """Carries only the CSRF token."""
