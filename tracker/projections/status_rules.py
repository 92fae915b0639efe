"""How each event type changes the case status state (see tracker.projections.status)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from tracker.events.record import Recorded

State = dict[str, Any]
Handler = Callable[[State, Recorded], None]

HANDLERS: dict[str, Handler] = {}


def _on(*types: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in types:
            HANDLERS[name] = handler
        return handler

    return register


def day(value: Any) -> str | None:
    """An ISO date string from a date or a date string; None for anything else."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            return None
    return None


def _scalar(value: Any) -> Any:
    # The state must stay JSON-native whatever a payload carries.
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return day(value)


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _later(current: str | None, candidate: str) -> str:
    return candidate if current is None or candidate > current else current


def set_identity(state: State, data: Mapping[str, Any]) -> None:
    """Copy the pseudonym, category and citizenship of a case_opened payload."""
    for key in ("pseudonym", "category", "citizenship"):
        state[key] = _text(data, key)


@_on("case_opened")
def _case_opened(state: State, event: Recorded) -> None:
    on = event.occurred_on.isoformat()
    set_identity(state, event.data)
    state["state"] = state["state"] or "open"
    state["opened_on"] = on
    state["last_contact_on"] = _later(state["last_contact_on"], on)


@_on("caseworker_assigned", "caseworker_unassigned")
def _caseworker(state: State, event: Recorded) -> None:
    username = _text(event.data, "username")
    if username is None:
        return
    names = set(state["caseworkers"])
    if event.type == "caseworker_assigned":
        names.add(username)
    else:
        names.discard(username)
    state["caseworkers"] = sorted(names)


@_on("lawyer_assigned")
def _lawyer(state: State, event: Recorded) -> None:
    state["lawyer"] = {"name": _text(event.data, "name"), "organization": _text(event.data, "organization")}


def _move_to(state: State, country: str | None) -> None:
    # Leaving the country of a removal order complies with it; the order no longer threatens.
    removal = state["removal_ordered"]
    if removal is not None and removal["country"] != country:
        state["removal_ordered"] = None
    state["country"] = country


@_on("fled_country")
def _fled(state: State, event: Recorded) -> None:
    _move_to(state, _text(event.data, "to_country"))
    state["city"] = None
    state["in_country_since"] = event.occurred_on.isoformat()


@_on("relocated")
def _relocated(state: State, event: Recorded) -> None:
    country = _text(event.data, "country")
    if country != state["country"]:
        state["in_country_since"] = event.occurred_on.isoformat()
    _move_to(state, country)
    state["city"] = _text(event.data, "city")


@_on("border_crossed")
def _crossed(state: State, event: Recorded) -> None:
    # Leaving the country the person is in leaves the current country unknown until an entry.
    country = _text(event.data, "country")
    if event.data.get("direction") == "entered":
        if country != state["country"]:
            state["in_country_since"] = event.occurred_on.isoformat()
            state["city"] = None
        _move_to(state, country)
    elif country is not None and country == state["country"]:
        _move_to(state, None)
        state["city"] = state["in_country_since"] = None


@_on("stay_permitted", "stay_extended", "stay_ended")
def _stay(state: State, event: Recorded) -> None:
    country = _text(event.data, "country")
    if country is None:
        return
    stays = state["stays"]
    # The countries with a stay, the most recently recorded (in story order) last.
    order = [c for c in state["stay_order"] if c != country]
    if event.type == "stay_ended":
        stays.pop(country, None)
        state["stay_order"] = order
        return
    state["stay_order"] = [*order, country]
    if event.type == "stay_permitted":
        stays[country] = {
            "country": country,
            "kind": _text(event.data, "kind"),
            "valid_from": day(event.data.get("valid_from")),
            "valid_until": day(event.data.get("valid_until")),
        }
        removal = state["removal_ordered"]
        if removal is not None and removal["country"] == country:
            state["removal_ordered"] = None
        return
    stay = stays.get(country) or {"country": country, "kind": None, "valid_from": None, "valid_until": None}
    stay["valid_until"] = day(event.data.get("valid_until"))
    stays[country] = stay


@_on("removal_ordered")
def _removal(state: State, event: Recorded) -> None:
    state["removal_ordered"] = {
        "country": _text(event.data, "country"),
        "leave_by": day(event.data.get("leave_by")),
    }


@_on("document_recorded")
def _document(state: State, event: Recorded) -> None:
    kind = _text(event.data, "kind") or "other"
    state["documents"][kind] = {
        "kind": kind,
        "status": _text(event.data, "status"),
        "valid_until": day(event.data.get("valid_until")),
    }


@_on("criminal_case_opened")
def _criminal_case(state: State, event: Recorded) -> None:
    country = _text(event.data, "country")
    entry = {
        "id": event.id,
        "country": country,
        "article": _scalar(event.data.get("article")),
        "max_sentence_years": _scalar(event.data.get("max_sentence_years")),
        "wanted": state["wanted"].get(country) if country is not None else None,
        "next_hearing_on": None,
        "verdict": None,
    }
    entry.update(state["pending_case_updates"].pop(event.id, {}))
    state["criminal_cases"] = [c for c in state["criminal_cases"] if c["id"] != event.id] + [entry]


def _update_case(state: State, ref: str, fields: dict[str, Any]) -> None:
    for case in state["criminal_cases"]:
        if case["id"] == ref:
            case.update(fields)
            return
    # The referenced case is dated later in the story (or not known yet): apply when it opens.
    state["pending_case_updates"].setdefault(ref, {}).update(fields)


@_on("charges_changed")
def _charges(state: State, event: Recorded) -> None:
    ref = _text(event.data, "criminal_case")
    if ref is None:
        return
    fields = {"article": _scalar(event.data.get("article"))}
    if "max_sentence_years" in event.data:
        fields["max_sentence_years"] = _scalar(event.data["max_sentence_years"])
    _update_case(state, ref, fields)


@_on("wanted_listed")
def _wanted(state: State, event: Recorded) -> None:
    country, scope = _text(event.data, "country"), _text(event.data, "scope")
    if country is None:
        return
    state["wanted"][country] = scope
    for case in state["criminal_cases"]:
        if case["country"] == country:
            case["wanted"] = scope


@_on("court_hearing_scheduled")
def _hearing(state: State, event: Recorded) -> None:
    fields = {"next_hearing_on": day(event.data.get("hearing_on"))}
    ref = _text(event.data, "criminal_case")
    if ref is not None:
        _update_case(state, ref, fields)
    elif state["criminal_cases"]:
        state["criminal_cases"][-1].update(fields)


@_on("verdict_issued")
def _verdict(state: State, event: Recorded) -> None:
    ref = _text(event.data, "criminal_case")
    if ref is None:
        return
    in_absentia = event.data.get("in_absentia")
    verdict = {
        "in_absentia": in_absentia if isinstance(in_absentia, bool) else None,
        "sentence_years": _scalar(event.data.get("sentence_years")),
        "on": event.occurred_on.isoformat(),
    }
    _update_case(state, ref, {"verdict": verdict})


@_on("extradition_requested", "extradition_decided")
def _extradition(state: State, event: Recorded) -> None:
    requested = event.type == "extradition_requested"
    state["extradition_requested"] = requested
    state["extradition_outcome"] = None if requested else _text(event.data, "outcome")


@_on("detained", "released")
def _detention(state: State, event: Recorded) -> None:
    if event.type == "released":
        state["detained"], state["detained_since"] = False, None
    elif not state["detained"]:
        state["detained"], state["detained_since"] = True, event.occurred_on.isoformat()


_ASYLUM_STAGES = {
    "asylum_applied": "applied",
    "asylum_interview_scheduled": "interview",
    "asylum_decided": "decided",
    "appeal_filed": "appeal",
    "appeal_decided": "final",
}


@_on(*_ASYLUM_STAGES)
def _asylum(state: State, event: Recorded) -> None:
    country = _text(event.data, "country")
    # An application may name no country (schema version 2): it is an entry of its own, of unknown
    # country. The other stages always name one.
    if country is None and event.type != "asylum_applied":
        return
    entry = next((a for a in state["asylum"] if a["country"] == country), None)
    if entry is None:
        entry = {"country": country, "stage": None, "outcome": None, "applied_on": None, "interview_on": None}
        state["asylum"].append(entry)
    entry["stage"] = _ASYLUM_STAGES[event.type]
    if event.type == "asylum_applied":
        entry.update(outcome=None, applied_on=event.occurred_on.isoformat(), interview_on=None)
    elif event.type == "asylum_interview_scheduled":
        entry["interview_on"] = day(event.data.get("interview_on"))
    elif event.type in ("asylum_decided", "appeal_decided"):
        entry["outcome"] = _text(event.data, "outcome")


@_on("travel_permit_requested")
def _permit_requested(state: State, event: Recorded) -> None:
    state["travel_permits"].append(
        {"country": _text(event.data, "country"), "purpose": _text(event.data, "purpose"), "outcome": None}
    )


@_on("travel_permit_decided")
def _permit_decided(state: State, event: Recorded) -> None:
    country, outcome = _text(event.data, "country"), _text(event.data, "outcome")
    for permit in reversed(state["travel_permits"]):
        if permit["country"] == country and permit["outcome"] is None:
            permit["outcome"] = outcome
            return
    state["travel_permits"].append({"country": country, "purpose": None, "outcome": outcome})


@_on("threat_reported")
def _threat(state: State, event: Recorded) -> None:
    state["last_threat_on"] = _later(state["last_threat_on"], event.occurred_on.isoformat())


@_on("risk_assessed")
def _risk(state: State, event: Recorded) -> None:
    state["risk_level"] = _text(event.data, "level")


@_on("contact_made", "contact_details_changed")
def _contact(state: State, event: Recorded) -> None:
    state["last_contact_on"] = _later(state["last_contact_on"], event.occurred_on.isoformat())


@_on("check_in_plan_set")
def _check_in_plan(state: State, event: Recorded) -> None:
    every = event.data.get("every_days")
    state["check_in_every_days"] = every if isinstance(every, int) and not isinstance(every, bool) else None


@_on("case_closed", "case_reopened")
def _closing(state: State, event: Recorded) -> None:
    closed = event.type == "case_closed"
    state["state"] = "closed" if closed else "open"
    state["closed_outcome"] = _text(event.data, "outcome") if closed else None
