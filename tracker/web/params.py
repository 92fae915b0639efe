"""Query-string values of the pages: a bad one becomes a message on the page, never an error page."""

from __future__ import annotations

from datetime import date

from flask import request
from flask_babel import gettext as _


def date_arg(name: str, errors: dict[str, str], latest: date | None = None) -> date | None:
    """The date in ?name=YYYY-MM-DD; None when absent, or (with a message in `errors`) when bad.

    With `latest`, a later date is bad too (an "as of" date must not be in the future).
    """
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) != 10:
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("must be a date (YYYY-MM-DD)")
        return None
    if latest is not None and day > latest:
        errors[name] = _("must not be after today (%(day)s)", day=latest.isoformat())
        return None
    return day
