"""The case status as a pure fold over effective events, and its rendering for a given day.

The state is a JSON-native dict, so it can be stored mid-fold and the fold continued later; the
per-type rules live in status_rules. Choices where the spec is silent:

- The fold assumes story order (occurred_on, then version). A fact that arrives late or a correction
  changes the past: rebuild with build_state instead of continuing a stored state.
- border_crossed "entered" makes its country the current one; "left" of the current country leaves
  the current country unknown (null) until an entry. The stay-day count (stay_count) is not part of
  the fold: it depends on the rules and the day, and is added by the reading service.
- Leaving the country of a removal order (fled_country / relocated elsewhere) clears the order, as
  does a stay_permitted in that country. Legal stays are kept per country; the status shows the one
  of the current country or, when no current country is known, the most recently recorded one (in
  story order; stay_ended falls back to the one before). stay_extended without a known stay gives a
  stay of unknown kind.
- Documents are keyed by kind (numbers are sensitive and never reach projections): the newest record
  of a kind wins. has_international_passport = an international_passport with status "held".
- Every recorded criminal case counts as open (no event closes one). wanted_listed marks every case of
  its country and is remembered per country, so cases opened later in that country inherit it.
  charges_changed keeps max_sentence_years when it does not give one. References to a case that is
  not known yet are kept and applied when it opens (imprecise dates can put them first). A hearing
  without criminal_case goes to the latest opened case and is dropped when there is none;
  next_hearing_on is the latest scheduled date, past or not.
- A second detained while detained keeps the first detained_since.
- Asylum has one entry per country in order of first mention; a new asylum_applied restarts it.
  An asylum_applied of unknown country (no country given) is an entry with country null.
  appeal_filed keeps the first-instance outcome until appeal_decided replaces it.
- travel_permit_decided without a pending request of its country adds an entry of unknown purpose.
- last_contact_on and last_threat_on only move forward; case_opened counts as a contact.
- build_state(events, as_of=D) also shows the pseudonym, category and citizenship when the case was
  opened after D (identity is not a fact of the story); state and opened_on stay null then.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from tracker.events.record import Recorded, effective
from tracker.projections.status_rules import HANDLERS, State, set_identity

#: Bump when the state layout changes: stored states of another version must be rebuilt.
STATE_VERSION = 2


def new_state() -> State:
    """An empty fold state (JSON-serializable)."""
    return {
        "state_version": STATE_VERSION,
        "pseudonym": None,
        "category": None,
        "citizenship": None,
        "state": None,
        "closed_outcome": None,
        "opened_on": None,
        "caseworkers": [],
        "lawyer": None,
        "country": None,
        "city": None,
        "in_country_since": None,
        "stays": {},
        "stay_order": [],
        "removal_ordered": None,
        "documents": {},
        "criminal_cases": [],
        "wanted": {},
        "pending_case_updates": {},
        "extradition_requested": False,
        "extradition_outcome": None,
        "detained": False,
        "detained_since": None,
        "asylum": [],
        "travel_permits": [],
        "risk_level": None,
        "last_threat_on": None,
        "last_contact_on": None,
        "check_in_every_days": None,
    }


def apply(state: State, event: Recorded) -> State:
    """Fold one effective event into the state (mutates it) and return it; unknown types change nothing."""
    handler = HANDLERS.get(event.type)
    if handler is not None:
        handler(state, event)
    return state


def build_state(events: Iterable[Recorded], as_of: date | None = None) -> State:
    """Fold the effective events of a case (raw events, corrections included), optionally as of a date."""
    state = new_state()
    for event in effective(events):
        if as_of is None or event.occurred_on <= as_of:
            apply(state, event)
        elif event.type == "case_opened":
            set_identity(state, event.data)
    return state


def stored_or_built(stored: str, events: Iterable[Recorded]) -> State:
    """The stored fold state of a case, or, when an older STATE_VERSION wrote it, the state refolded
    from the case's raw events (the stored one is replaced at the case's next append or rebuild)."""
    state: State = json.loads(stored)
    if state.get("state_version") != STATE_VERSION:
        return build_state(events)
    return state


def render(state: State, today: date) -> dict[str, Any]:
    """The status object of the JSON API as seen on `today`; next_deadline and overdue_deadlines are
    left for the caller to fill from the deadlines table."""
    documents = [dict(state["documents"][kind]) for kind in sorted(state["documents"])]
    return {
        "pseudonym": state["pseudonym"],
        "category": state["category"],
        "citizenship": state["citizenship"],
        "state": state["state"],
        "closed_outcome": state["closed_outcome"],
        "opened_on": state["opened_on"],
        "caseworkers": list(state["caseworkers"]),
        "lawyer": dict(state["lawyer"]) if state["lawyer"] is not None else None,
        "country": state["country"],
        "city": state["city"],
        "in_country_since": state["in_country_since"],
        "legal_stay": _legal_stay(state, today),
        "documents": documents,
        "has_international_passport": any(
            d["kind"] == "international_passport" and d["status"] == "held" for d in documents
        ),
        "criminal_cases": [_criminal_case(case) for case in state["criminal_cases"]],
        "detained": state["detained"],
        "detained_since": state["detained_since"],
        "asylum": [dict(entry) for entry in state["asylum"]],
        "travel_permits": [dict(permit) for permit in state["travel_permits"]],
        "extradition_requested": state["extradition_requested"],
        "removal_ordered": dict(state["removal_ordered"]) if state["removal_ordered"] is not None else None,
        "risk_level": state["risk_level"],
        "last_threat_on": state["last_threat_on"],
        "last_contact_on": state["last_contact_on"],
        "next_check_in_due": _next_check_in(state),
        "next_deadline": None,
        "overdue_deadlines": 0,
    }


def _legal_stay(state: State, today: date) -> dict[str, Any] | None:
    country = state["country"]
    if country is None and state["stay_order"]:
        # No current country known: the most recently recorded stay.
        country = state["stay_order"][-1]
    stay = state["stays"].get(country) if country is not None else None
    if stay is None:
        return None
    until = stay["valid_until"]
    return {
        "country": stay["country"],
        "kind": stay["kind"],
        "valid_from": stay["valid_from"],
        "valid_until": until,
        "days_left": (date.fromisoformat(until) - today).days if until is not None else None,
    }


def _criminal_case(case: dict[str, Any]) -> dict[str, Any]:
    out = dict(case)
    if out["verdict"] is not None:
        out["verdict"] = dict(out["verdict"])
    return out


def _next_check_in(state: State) -> str | None:
    every, last = state["check_in_every_days"], state["last_contact_on"]
    if every is None or last is None:
        return None
    try:
        return (date.fromisoformat(last) + timedelta(days=every)).isoformat()
    except OverflowError:
        return None
