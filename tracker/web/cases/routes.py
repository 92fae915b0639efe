"""Cases: the list with search and filters, a new case, the case page, the add-event form, erasure."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from tracker.events.catalogue import CATALOGUE, ValidationError
from tracker.services import entry, erasure, reading, stay, timeline, users_admin
from tracker.services.runtime import Forbidden, NotFound
from tracker.web import labels
from tracker.web.cases import chart, stay_strip
from tracker.web.cases.forms import CORRECTIONS, EventForm, pickable_types
from tracker.web.i18n import name_events, show_day
from tracker.web.labels import type_label
from tracker.web.messages import translate
from tracker.web.params import date_arg
from tracker.web.security import client_address, runtime

bp = Blueprint("web_cases", __name__)


def case_uuid(raw: str) -> str:
    """The canonical case id; anything that is not a UUID is simply not found."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise NotFound(raw) from None


#: The filters typed into the form. A control character cannot be typed (and a NUL cannot even reach
#: PostgreSQL): such a request is refused, naming the filter.
TYPED = ("q", "country", "assigned")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _filters(errors: dict[str, str]) -> reading.CaseFilter:
    args = MultiDict(request.args)
    for name in TYPED:
        if _CONTROL.search(args.get(name, "")):
            errors[name] = _("must not contain control characters")
            args.poplist(name)
    status = args.get("status") or None
    if status not in (None, "open", "closed"):
        errors["status"] = translate("must be one of open, closed")
        status = None
    within = None
    if args.get("deadline_within", "").strip():
        try:
            raw = args["deadline_within"].strip()
            # [0-9] only: int() also reads other scripts' digits and "1_0".
            if not re.fullmatch("[0-9]{1,4}", raw) or not 0 <= int(raw) <= 3650:
                raise ValueError
        except ValueError:
            errors["deadline_within"] = translate("must be at least 0 and at most 3650")
            within = None
    country = (args.get("country") or "").strip().upper() or None
    return reading.CaseFilter(
        q=(args.get("q") or "").strip()[:200] or None,
        status=status,
        country=country,
        assigned=(args.get("assigned") or "").strip()[:64] or None,
        deadline_within=within,
        limit=int(runtime().settings.get("PAGE_SIZE", 50)),
        cursor=args.get("cursor") or None,
    )


@bp.get("/cases")
@login_required
def case_list() -> Any:
    errors: dict[str, str] = {}
    filters = _filters(errors)
    try:
        cases, cursor = reading.list_cases(runtime(), current_user.actor, filters)
    except ValueError:
        errors["cursor"] = _("This page of the list is no longer valid; the list starts again.")
        cases, cursor = reading.list_cases(runtime(), current_user.actor, _replace_cursor(filters))
    args: dict[str, Any] = {
        k: v for k, v in request.args.items() if k not in ("cursor", "lang", *errors) and v
    }
    workers = users_admin.usernames(runtime(), "caseworker") if current_user.actor.sees_every_case else []
    return render_template(
        "cases/list.html",
        cases=cases,
        next_url=url_for("web_cases.case_list", cursor=cursor, **args) if cursor else None,
        first_url=url_for("web_cases.case_list", **args) if filters.cursor else None,
        args={k: v for k, v in request.args.items() if k not in errors.keys() & set(TYPED)},
        errors=errors,
        workers=workers,
    ), (400 if errors.keys() & set(TYPED) else 200)


def _replace_cursor(f: reading.CaseFilter) -> reading.CaseFilter:
    return reading.CaseFilter(f.q, f.status, f.country, f.assigned, f.deadline_within, f.limit, None)


@bp.route("/cases/new", methods=["GET", "POST"])
@login_required
def new_case() -> Any:
    actor = current_user.actor
    if not actor.may_record:
        raise Forbidden("auditors cannot open cases")
    values = request.form if request.method == "POST" else request.args
    form = EventForm("case_opened", None, values, runtime().today())
    status = 200
    if request.method == "POST":
        try:
            case_id = entry.open_case(runtime(), actor, form.body(), g.get("request_id"))
        except ValidationError as exc:
            form.set_errors(exc.fields)
            status = 422
        else:
            flash(_("The case was opened."), "info")
            return redirect(url_for("web_cases.case_page", case_id=case_id))
    return render_template("cases/new.html", form=form), status


@bp.get("/cases/<case_id>")
@login_required
def case_page(case_id: str) -> Any:
    errors: dict[str, str] = {}
    as_of = date_arg("as_of", errors, latest=runtime().today())
    page = timeline.case_page(runtime(), current_user.actor, case_uuid(case_id), as_of)
    kinds = _kinds(errors)
    return _render_case(page, errors, kinds), (400 if "kind" in errors else 200)


def _kinds(errors: dict[str, str]) -> frozenset[str]:
    """The kinds of events the timeline shows (?kind=, repeated); an unknown one shows them all."""
    chosen = [k.strip() for k in request.args.getlist("kind") if k.strip()]
    unknown = [k for k in chosen if k not in timeline.KINDS]
    if unknown:
        errors["kind"] = _("There is no kind of event “%(kind)s”; choose among these.", kind=unknown[0][:40])
        return frozenset()
    return frozenset(chosen)


def _precisions(entries: list[timeline.Entry]) -> dict[str, str]:
    """How precisely each day of the story is known: the status card's dates come from these events.

    A day holding events of several precisions counts as the finest of them.
    """
    rank = {"day": 0, "month": 1, "year": 2}
    out: dict[str, str] = {}
    for e in entries:
        if e.state == "retracted":
            continue
        day, precision = e.effective_on.isoformat(), e.date_precision
        if day not in out or rank.get(precision, 0) < rank.get(out[day], 0):
            out[day] = precision
    return out


def _render_case(page: timeline.CasePage, errors: dict[str, str], kinds: frozenset[str] = frozenset()) -> str:
    precisions = _precisions(page.entries)
    name_events(page.entries)
    counts = {k: sum(1 for e in page.entries if e.kind == k) for k in timeline.KINDS}
    return render_template(
        "cases/case.html",
        page=page,
        kinds=kinds,
        kind_counts=counts,
        items=timeline.fold_quiet(timeline.only_kinds(page.entries, kinds), page.today),
        status_day=lambda value: show_day(value, precisions.get(str(value or ""), "day")),
        chart=chart.render(page.chronology, page.as_of is not None),
        stay_strip=stay_strip.render(page.stay_strip),
        types=pickable_types(current_user.role, entry.usual_types(runtime(), current_user.actor)),
        errors=errors,
        may_record=current_user.actor.may_record,
        sees_files=current_user.actor.sees_sensitive,
    )


@bp.get("/cases/<case_id>/stay-plan")
@login_required
def stay_plan(case_id: str) -> Any:
    """The planner: what leaving and coming back would mean for the days of stay; records nothing."""
    cid = case_uuid(case_id)
    errors: dict[str, str] = {}
    leave_on, return_on = date_arg("leave_on", errors), date_arg("return_on", errors)
    answer: dict[str, Any] | None = {}
    if not errors:
        try:
            answer = stay.stay_plan(runtime(), current_user.actor, cid, leave_on, return_on, via="web")[
                "plan"
            ]
        except stay.PlanError as exc:
            errors[exc.field] = _plan_error(exc)
            answer = {}
    return render_template("cases/stay_plan.html", case_id=cid, plan=answer, errors=errors, args=request.args)


def _plan_error(exc: stay.PlanError) -> str:
    day = exc.day.isoformat() if exc.day is not None else ""
    if exc.reason == "required":
        return _("give the day of leaving: the person is in the country now")
    if exc.reason == "outside":
        return _("the person is not in the country now; give only the day of return")
    if exc.reason == "before":
        return _("must not be before %(day)s", day=day)
    return _("must be %(day)s or later", day=day)


def _target(ctx: entry.FormContext, event_id: str | None) -> timeline.Entry | None:
    if not event_id:
        return None
    return next((e for e in ctx.entries if e.id == event_id and e.actionable), None)


def _not_a_target(ctx: entry.FormContext, event_id: str | None) -> tuple[str | None, int]:
    """Why `event_id` cannot be corrected or retracted (None and 200 when no event was named)."""
    if not event_id:
        return None, 200
    named = next((e for e in ctx.entries if e.id == event_id), None)
    if named is None:
        return _("This case has no such event."), 404
    if named.state == "retracted":
        return _("This event was retracted: a retracted event cannot be corrected or retracted."), 422
    return _("This event cannot be corrected or retracted; choose the event it acts on."), 422


@bp.route("/cases/<case_id>/events/new", methods=["GET", "POST"])
@login_required
def new_event(case_id: str) -> Any:
    rt = runtime()
    actor = current_user.actor
    ctx = entry.form_context(rt, actor, case_uuid(case_id))
    values = request.form if request.method == "POST" else request.args
    type_name = values.get("type", "")
    # case_opened has its own page; erasure and attachments are written by their own actions.
    if type_name not in CATALOGUE or type_name == "case_opened" or not CATALOGUE[type_name].api_writable:
        return render_template(
            "cases/pick_type.html",
            ctx=ctx,
            types=pickable_types(actor.role, entry.usual_types(rt, actor)),
            unknown=bool(type_name),
        ), (404 if type_name else 200)
    target = _target(ctx, values.get("event_id"))
    if type_name in CORRECTIONS and target is None:
        problem, status = _not_a_target(ctx, values.get("event_id"))
        return render_template(
            "cases/pick_target.html", ctx=ctx, type_name=type_name, problem=problem
        ), status
    name_events(ctx.entries)
    form = EventForm(type_name, ctx, values, rt.today(), target)
    status = 200
    version = ctx.version
    upload = documents.uploaded() if request.method == "POST" and type_name not in CORRECTIONS else None
    refused = documents.refusal(upload) if upload is not None else None
    if refused is not None:
        form.general.append(refused[0])
        status = refused[1]
    elif request.method == "POST":
        expected = request.form.get("version", "")
        try:
            event_id, _version = entry.record(
                rt,
                actor,
                ctx.id,
                form.body(),
                int(expected) if expected.isascii() and expected.isdigit() and len(expected) < 11 else None,
                g.get("request_id"),
            )
        except ValidationError as exc:
            form.set_errors(exc.fields)
            status = 422
        except entry.Conflict as exc:
            form.general.append(
                _("Someone else recorded an event on this case meanwhile. Check the case, then send again.")
            )
            version = exc.version or version
            status = 409
        else:
            flash(_("Recorded: %(type)s.", type=type_label(type_name)), "info")
            if upload is not None:
                documents.attach_after(ctx.id, upload, event_id)
            return redirect(url_for("web_cases.case_page", case_id=ctx.id, _anchor=f"event-{event_id}"))
    return render_template(
        "cases/event_new.html", ctx=ctx, form=form, type_name=type_name, target=target, version=version
    ), status


def _follow_up_action(case_id: str, follow_up: str, type_name: str, data: dict[str, Any]) -> Any:
    """Record a one-click action on a follow-up; back to the dashboard or the case page."""
    rt = runtime()
    actor = current_user.actor
    cid = case_uuid(case_id)
    payload = {"follow_up": follow_up, **data}
    body = {"type": type_name, "occurred_on": rt.today().isoformat(), "data": payload}
    try:
        entry.record(rt, actor, cid, body, None, g.get("request_id"))
    except ValidationError as exc:
        field, message = next(iter(exc.fields.items()))
        label = labels.field_label(type_name, field)
        page = timeline.case_page(rt, actor, cid, None)
        return _render_case(page, {"follow_up": f"{label}: {translate(message)}"}), 422
    flash(_("Recorded: %(type)s.", type=type_label(type_name)), "info")
    if request.form.get("back") == "dashboard":
        return redirect(url_for("web_dashboard.index", _anchor="my-follow-ups"))
    return redirect(url_for("web_cases.case_page", case_id=cid, _anchor="follow-ups"))


@bp.post("/cases/<case_id>/follow-ups/<follow_up>/done")
@login_required
def follow_up_done(case_id: str, follow_up: str) -> Any:
    return _follow_up_action(case_id, follow_up, "follow_up_done", {})


@bp.post("/cases/<case_id>/follow-ups/<follow_up>/snooze")
@login_required
def follow_up_snooze(case_id: str, follow_up: str) -> Any:
    until = (request.form.get("until") or "").strip()
    return _follow_up_action(case_id, follow_up, "follow_up_snoozed", {"until": until} if until else {})


@bp.post("/cases/<case_id>/erase")
@login_required
def erase(case_id: str) -> Any:
    actor = current_user.actor
    cid = case_uuid(case_id)
    if actor.role != "admin":
        abort(403)
    reason = (request.form.get("reason") or "").strip()
    typed = request.form.get("confirm") or ""

    def refused(field: str, message: str) -> Any:
        page = timeline.case_page(runtime(), actor, cid, None)
        return _render_case(page, {field: message}), 422

    if not reason:
        return refused("erase_reason", _("Give the reason for the erasure."))
    try:
        erasure.erase_case(
            runtime(), actor, cid, reason, source="web", address=client_address(), confirm=typed
        )
    except erasure.NotConfirmed:
        return refused("erase_confirm", _("This is not the pseudonym of this case; nothing was erased."))
    except ValidationError as exc:
        flash(translate(next(iter(exc.fields.values()), str(exc))), "error")
    except erasure.AlreadyErased:
        flash(_("The personal data of this case was already erased."), "error")
    except erasure.WalNotEmptied:
        flash(
            _(
                "The personal data of this case was erased, but other connections are reading: the key's "
                "bytes may remain in the write-ahead log until a checkpoint succeeds. Run "
                "“tracker db checkpoint” on the server once they are done."
            ),
            "error",
        )
    else:
        flash(_("The personal data of this case was erased."), "info")
    return redirect(url_for("web_cases.case_page", case_id=cid))


from tracker.web.cases import documents  # noqa: E402  (its routes are on this blueprint)
