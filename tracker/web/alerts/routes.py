"""The alerts inbox: my alerts, newest first, with acknowledge."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from tracker.services import alerts
from tracker.services.runtime import NotFound
from tracker.web.alerts.forms import AckForm
from tracker.web.security import runtime

bp = Blueprint("web_alerts", __name__)


def my_alerts(unacknowledged: bool = False, limit: int = 200) -> list[dict]:
    """The signed-in user's alerts."""
    return alerts.list_alerts(runtime(), current_user.actor, unacknowledged=unacknowledged, limit=limit)


@bp.get("/alerts")
@login_required
def inbox() -> Any:
    show_all = request.args.get("show") == "all"
    items = my_alerts(unacknowledged=not show_all)
    items.sort(key=lambda a: (a["acknowledged_at"] is not None, a["due_on"]))
    return render_template("alerts/page.html", alerts=items, show_all=show_all, form=AckForm())


@bp.post("/alerts/<int:alert_id>/ack")
@login_required
def ack(alert_id: int) -> Any:
    if alert_id > 2**62:  # no such id: larger numbers do not even fit the column
        raise NotFound(str(alert_id))
    form = AckForm()
    if form.validate_on_submit():
        alerts.acknowledge(runtime(), current_user.actor, alert_id)
        flash(_("Alert acknowledged."), "info")
    back = request.form.get("back", "")
    if back == "dashboard":
        return redirect(url_for("web_dashboard.index"))
    return redirect(url_for("web_alerts.inbox"))
