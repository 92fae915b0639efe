"""The dashboard: my deadlines (overdue first), my alerts, my cases; for supervisors, the organization's
overdue and upcoming deadlines with their caseworkers (filtered by one), and each caseworker's load."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from tracker.auth.users import USERNAME
from tracker.services.follow_ups import my_follow_ups
from tracker.services.overview import UPCOMING_DAYS, UnknownCaseworker, overview
from tracker.web.alerts.routes import my_alerts
from tracker.web.security import runtime

bp = Blueprint("web_dashboard", __name__)
ALERTS_SHOWN = 20


@bp.get("/")
@login_required
def index() -> Any:
    errors: dict[str, str] = {}
    caseworker = (request.args.get("caseworker") or "").strip().lower() or None
    if caseworker is not None and not USERNAME.match(caseworker):
        errors["caseworker"] = _("must be a user name: 2 to 40 lowercase letters, digits, “.”, “_” or “-”")
        caseworker = None
    try:
        data = overview(runtime(), current_user.actor, caseworker)
    except UnknownCaseworker:
        errors["caseworker"] = _("no caseworker is called “%(name)s”", name=caseworker)
        data = overview(runtime(), current_user.actor)
    deadlines = sorted(data.my_deadlines, key=lambda d: (d["state"] != "overdue", d["due_on"]))
    page = render_template(
        "dashboard/page.html",
        data=data,
        deadlines=deadlines,
        alerts=_alerts(),
        follow_ups=my_follow_ups(runtime(), current_user.actor),
        errors=errors,
        upcoming_days=UPCOMING_DAYS,
    )
    return page, 400 if errors else 200


def _alerts() -> list[dict]:
    """My new alerts, overdue first, then by due date; the first ALERTS_SHOWN of them."""
    found = my_alerts(unacknowledged=True)
    found.sort(key=lambda a: (a["threshold_days"] is not None, a["due_on"], a["id"]))
    return found[:ALERTS_SHOWN]
