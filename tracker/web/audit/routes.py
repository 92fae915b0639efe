"""The audit views: a case's raw history with hashes, its chain check and access log; the org's log."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from tracker.auth.users import USERNAME
from tracker.services import audit, case_audit, checkpoints
from tracker.web.cases.routes import case_uuid
from tracker.web.params import date_arg
from tracker.web.security import client_address, runtime

bp = Blueprint("web_audit", __name__)

PAGE_SIZE = 100  # records on a page of the log
CHECKPOINTS_SHOWN = 10  # the newest signed checkpoints on the log page
TARGET_MAX = 100  # the width of audit_log.target
# The download formats and their media types.
EXPORTS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}


@bp.get("/cases/<case_id>/audit")
@login_required
def case_view(case_id: str) -> Any:
    errors: dict[str, str] = {}
    known_on = date_arg("known_on", errors)
    view = case_audit.case_audit(runtime(), current_user.actor, case_uuid(case_id), known_on)
    return render_template("audit/case.html", view=view, errors=errors)


def _filters(errors: dict[str, str]) -> tuple[audit.AuditFilter, dict[str, str]]:
    """The log's filter from the query string, and the valid values as they go back into links.

    A bad value gets a message next to its field and is left out of the filter.
    """
    actor = (request.args.get("actor") or "").strip().lower() or None
    if actor is not None and not USERNAME.match(actor):
        errors["actor"] = _("must be a user name: 2 to 40 lowercase letters, digits, “.”, “_” or “-”")
        actor = None
    action = request.args.get("action") or None
    if action not in (None, *audit.SHOWN_ACTIONS):
        errors["action"] = _("unknown action")
        action = None
    target = (request.args.get("target") or "").strip() or None
    if target is not None:
        try:
            target = str(uuid.UUID(target))  # a case id in any spelling reads as stored
        except ValueError:
            if len(target) > TARGET_MAX or not target.isprintable():
                errors["target"] = _(
                    "must be a case id or a user name (at most %(num)s characters)", num=TARGET_MAX
                )
                target = None
    since = date_arg("from", errors)
    until = date_arg("to", errors)
    if since and until and since > until:
        errors["to"] = _("must not be before the start date")
        until = None
    values = {"actor": actor, "action": action, "target": target, "from": since, "to": until}
    args = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items() if v}
    return audit.AuditFilter(actor=actor, action=action, target=target, since=since, until=until), args


def _log_page(errors: dict[str, str], f: audit.AuditFilter, args: dict[str, str], status: int = 200) -> Any:
    before = request.args.get("before", "")
    entries, next_before = audit.list_entries(
        runtime(),
        current_user.actor,
        f,
        limit=PAGE_SIZE,
        before_id=before or None,
    )
    page = render_template(
        "audit/log.html",
        entries=entries,
        next_before=next_before,
        errors=errors,
        actions=audit.SHOWN_ACTIONS,
        filter_args=args,
        formats=EXPORTS,
        checkpoints=checkpoints.listed(runtime(), CHECKPOINTS_SHOWN),
        public_key=checkpoints.public_key_hex(runtime()),
    )
    return page, status


@bp.get("/audit")
@login_required
def log_view() -> Any:
    errors: dict[str, str] = {}
    f, args = _filters(errors)
    return _log_page(errors, f, args)


@bp.get("/audit/export.<fmt>")
@login_required
def log_export(fmt: str) -> Any:
    """The filtered log as a streamed CSV or JSON Lines download; the export is itself recorded."""
    audit.require_reader(current_user.actor)  # others get what the page gives them
    if fmt not in EXPORTS:
        abort(404)
    errors: dict[str, str] = {}
    f, args = _filters(errors)
    if errors:  # nothing is exported (or recorded) for a filter that is not what was asked
        return _log_page(errors, f, args, 400)
    chunks = audit.export_stream(runtime(), current_user.actor, f, fmt, client_address())
    stamp = runtime().now().strftime("%Y%m%d-%H%M%S")
    response = Response(chunks, content_type=EXPORTS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/audit/checkpoints/<int:checkpoint_id>.json")
@login_required
def checkpoint_file(checkpoint_id: int) -> Any:
    """A stored checkpoint as the file a witness keeps (docs/security.md says how to check it)."""
    audit.require_reader(current_user.actor)
    found = checkpoints.get(runtime(), checkpoint_id)
    if found is None:
        abort(404)
    response = Response(json.dumps(found.export(), indent=1) + "\n", content_type="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="checkpoint-{found.id}.json"'
    return response
