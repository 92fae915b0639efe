"""Query-string values of the pages: a bad one becomes a message on the page, never an error page."""

from __future__ import annotations

from datetime import date

from flask import request
from flask_babel import gettext as _


def date_arg(name: str, errors: dict[str, str]) -> date | None:
    """The date in ?name=YYYY-MM-DD; None when absent, or (with a message in `errors`) when bad."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("must be a date (YYYY-MM-DD)")
        return None
