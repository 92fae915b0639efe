"""The audit views: a case's raw history with hashes, its chain check and access log; the org's log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from tracker.services import audit, case_audit
from tracker.web.cases.routes import case_uuid
from tracker.web.params import date_arg
from tracker.web.security import runtime

bp = Blueprint("web_audit", __name__)


@bp.get("/cases/<case_id>/audit")
@login_required
def case_view(case_id: str) -> Any:
    errors: dict[str, str] = {}
    known_on = date_arg("known_on", errors)
    view = case_audit.case_audit(runtime(), current_user.actor, case_uuid(case_id), known_on)
    return render_template("audit/case.html", view=view, errors=errors)


@bp.get("/audit")
@login_required
def log_view() -> Any:
    errors: dict[str, str] = {}
    action = request.args.get("action") or None
    if action not in (None, *audit.ACTIONS):
        errors["action"] = _("unknown action")
        action = None
    actor_name = (request.args.get("actor") or "").strip()[:64] or None
    before = request.args.get("before", "")
    entries, next_before = audit.list_entries(
        runtime(),
        current_user.actor,
        audit.AuditFilter(actor=actor_name, action=action),
        limit=100,
        before_id=int(before) if before.isdigit() and len(before) < 18 else None,
    )
    return render_template(
        "audit/log.html", entries=entries, next_before=next_before, errors=errors, actions=audit.ACTIONS
    )
