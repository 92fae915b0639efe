"""The dashboard: my deadlines (overdue first), my alerts, my cases; everyone's overdue for supervisors."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from tracker.services.overview import overview
from tracker.web.alerts.routes import my_alerts
from tracker.web.security import runtime

bp = Blueprint("web_dashboard", __name__)
ALERTS_SHOWN = 20


@bp.get("/")
@login_required
def index() -> Any:
    data = overview(runtime(), current_user.actor)
    deadlines = sorted(data.my_deadlines, key=lambda d: (d["state"] != "overdue", d["due_on"]))
    return render_template("dashboard/page.html", data=data, deadlines=deadlines, alerts=_alerts())


def _alerts() -> list[dict]:
    """My new alerts, overdue first, then by due date; the first ALERTS_SHOWN of them."""
    found = my_alerts(unacknowledged=True)
    found.sort(key=lambda a: (a["threshold_days"] is not None, a["due_on"], a["id"]))
    return found[:ALERTS_SHOWN]
