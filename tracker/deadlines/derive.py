"""The deadlines of one case, derived from its events by the rules: pure, no storage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from tracker.deadlines.calendar import roll_forward
from tracker.deadlines.rules import STAY_COUNT, STAY_UNKNOWN, TITLE_FIELDS, KindRule, Rules
from tracker.events.record import CORRECTION_TYPES, Recorded, effective
from tracker.stay.history import STAY_TYPES, read_history, stay_count

#: States decided here; the reader shows an open deadline whose due_on has passed as "overdue".
STATES = ("open", "resolved", "superseded", "met")


@dataclass(frozen=True, slots=True)
class Deadline:
    """One deadline of a case, named by a key that changes whenever its due date does."""

    key: str
    case_id: str
    kind: str
    title: str
    due_on: date
    state: str
    source_event_id: str
    resolved_by: str | None
    lead_days: tuple[int, ...]


def derive(events: Iterable[Recorded], rules: Rules, as_of: date | None = None) -> list[Deadline]:
    """Every deadline of one case from its raw events (corrections included), soonest first."""
    events = sorted(events, key=lambda e: e.version)
    current = _fold(effective(events, as_of), rules)
    keys = {d.key for d in current}
    gone: dict[str, Deadline] = {}
    # A correction that moves a source's date, or a retraction, takes a key out of the derivation.
    # The old key stays, superseded by that correction, so that alerts already sent for it remain
    # explainable. Comparing the derivation just before and just after each correction finds
    # exactly the keys it took away; the last correction that took a key away is the one named.
    # (New contacts move a check-in without being corrections, so past check-ins are not kept.)
    closings = {e.id for e in events if e.type == "case_closed"}
    for fix in (e for e in events if e.type in CORRECTION_TYPES):
        before = _fold(effective([e for e in events if e.version < fix.version], as_of), rules)
        after = {
            d.key for d in _fold(effective([e for e in events if e.version <= fix.version], as_of), rules)
        }
        for old in before:
            if old.key not in after and old.key not in keys:
                live = old.state == "open" or old.resolved_by in closings
                gone[old.key] = replace(old, state="superseded", resolved_by=fix.id) if live else old
    return sorted([*current, *gone.values()], key=lambda d: (d.due_on, d.key))


@dataclass
class _Item:
    rule: KindRule
    source: Recorded
    view: Mapping[str, Any]
    due_on: date
    title: str
    state: str = "open"
    resolved_by: str | None = None

    @property
    def key(self) -> str:
        return f"{self.rule.kind}:{self.source.id}:{self.due_on.isoformat()}"

    def end(self, state: str, event: Recorded) -> None:
        self.state, self.resolved_by = state, event.id


def _fold(story: list[Recorded], rules: Rules) -> list[Deadline]:
    items: list[_Item] = []
    closing: str | None = None
    country: str | None = None  # where the person is, to tell an arrival from a move within a country
    stay_rules = [r for r in rules.kind_rules.values() if r.due_rule == STAY_COUNT]
    citizen = read_history(story).citizenship if stay_rules else None
    for index, event in enumerate(story):
        if event.type == "case_closed":
            closing = closing or event.id
        elif event.type == "case_reopened":
            closing = None
        for item in items:
            if item.state == "open":
                _settle(item, event, country)
        for rule in rules.kind_rules.values():
            created = _create(rule, event, story, rules, country)
            if created is not None:
                items.append(created)
        # Every stay is followed from its start, so that one the person has left ends as met instead of
        # vanishing (its alerts may have gone out).
        for rule in stay_rules if event.type in STAY_TYPES else ():
            _stay_step(rule, items, story[: index + 1], rules, citizen)
        if event.type == "fled_country":
            country = event.data.get("to_country") or country
        elif event.type == "relocated":
            country = event.data.get("country") or country
    # Closing a case pauses its deadlines rather than ending them: while it is closed every open
    # deadline reads as resolved by the closing, and a reopening brings back what it was tracking.
    return [
        Deadline(
            key=item.key,
            case_id=item.source.case_id,
            kind=item.rule.kind,
            title=item.title,
            due_on=item.due_on,
            state="resolved" if closing and item.state == "open" else item.state,
            source_event_id=item.source.id,
            resolved_by=closing if closing and item.state == "open" else item.resolved_by,
            lead_days=item.rule.lead_days,
        )
        for item in items
    ]


def _stay_step(
    rule: KindRule, items: list[_Item], story: list[Recorded], rules: Rules, citizen: str | None
) -> None:
    """Move the stay_limit deadline of the stay going on after the last event of `story`."""
    event = story[-1]
    found = stay_count(story, rules.stay, event.occurred_on, citizen)
    current = next((i for i in reversed(items) if i.rule is rule and i.state == "open"), None)
    due = found[2].last_lawful_day if found is not None and found[2].inside else None
    if current is not None and current.due_on == due:
        return
    if current is not None:
        # Leaving (also for a country without a counted stay) meets the limit; a permit with no end
        # or a change of rule ends it; else it moved.
        here = found[0] if found is not None else read_history(story).country
        left = (found is not None and not found[2].inside) or here != current.view["country"]
        current.end("met" if left else "superseded" if due is not None else "resolved", event)
    if found is not None and due is not None:
        title = rule.title.format_map(_Unknown({"country": found[0]}))
        items.append(_Item(rule, event, {"country": found[0]}, due, title))


def _settle(item: _Item, event: Recorded, country: str | None) -> None:
    rule = item.rule
    if rule.due_rule == STAY_UNKNOWN and _left(item.view.get("country"), event, country):
        item.end("resolved", event)  # the person moved on: there is no stay to establish there
        return
    if event.type == "deadline_resolved":
        if event.data.get("deadline_key") == item.key:
            item.end("met" if event.data.get("resolution") == "met" else "resolved", event)
    elif event.type in rule.superseded_by and (view := _view(rule, event, country)) is not None:
        if all(view.get(f) == item.view.get(f) for f in rule.same):
            item.end("superseded", event)
    # Meeting and closing events match on `same`, where a field the source left empty matches
    # anything: a verdict meets a hearing that names no criminal case.
    elif all(item.view.get(f) in (None, event.data.get(f)) for f in rule.same):
        if event.type in rule.met_by:
            item.end("met", event)
        elif event.type in rule.resolved_by:
            item.end("resolved", event)


def _left(place: Any, event: Recorded, country: str | None) -> bool:
    """Whether `event` takes the person out of `place` (where they are now is `country`)."""
    if event.type == "border_crossed":
        return event.data.get("direction") == "left" and event.data.get("country") == place
    arrived = _arrival(event, country)
    return arrived is not None and arrived != place


def _arrival(event: Recorded, country: str | None) -> str | None:
    """The country an event brings the person into, when it is an arrival."""
    if event.type == "fled_country":
        return event.data.get("to_country")
    if event.type == "relocated" and event.data.get("country") != country:
        return event.data.get("country")
    if event.type == "border_crossed" and event.data.get("direction") == "entered":
        return event.data.get("country")
    return None


def _view(rule: KindRule, event: Recorded, country: str | None) -> Mapping[str, Any] | None:
    """The event as the rule sees it; None when the rule ignores this event."""
    if rule.due_rule == STAY_UNKNOWN:
        arrived = _arrival(event, country)
        return {"country": arrived} if arrived is not None else None
    if rule.due_rule != "arrival_window":
        return event.data
    if event.type == "fled_country":
        return {"country": event.data.get("to_country")}
    if event.type == "relocated" and event.data.get("country") != country:
        return {"country": event.data.get("country")}
    return None


def _create(
    rule: KindRule, event: Recorded, story: list[Recorded], rules: Rules, country: str | None
) -> _Item | None:
    if rule.due_rule == STAY_COUNT:  # moved by _stay_step, not created per event
        return None
    if event.type not in rule.sources or any(event.data.get(f) not in ok for f, ok in rule.when):
        return None
    view = _view(rule, event, country)
    if view is None:
        return None
    due_on, extra = _due(rule, event, view, story, rules)
    if due_on is None:
        return None
    values = {k: str(v).replace("_", " ") for k, v in {**view, **extra}.items() if k in TITLE_FIELDS}
    return _Item(rule, event, view, due_on, rule.title.format_map(_Unknown(values)))


def _due(
    rule: KindRule, event: Recorded, view: Mapping[str, Any], story: list[Recorded], rules: Rules
) -> tuple[date | None, dict[str, Any]]:
    if rule.due_field is not None:
        return _as_date(view.get(rule.due_field)), {}
    place = view.get("country")
    holidays = rules.holidays_for(place)
    if rule.due_rule == "appeal_period":
        start = _as_date(view.get("notified_on")) or event.occurred_on
        options = [
            (roll_forward(p.period.after(start), holidays, weekends=p.roll_weekend), p.body)
            for p in rules.appeal_periods_for(place, view.get("procedure"), view.get("outcome"))
        ]
        # Equally specific entries that disagree: the earlier date is the safe one.
        due_on, body = min(options) if options else (None, "")
        return due_on, {"body": body}
    if rule.due_rule == STAY_UNKNOWN:
        if rule.period is None or place is None or _stay_known(story, event, place):
            return None, {}
        return rule.period.after(event.occurred_on), {}
    if rule.due_rule == "arrival_window":
        window = rules.filing_windows.get(place or "")
        if window is None:
            return None, {}
        return roll_forward(
            window.period.after(event.occurred_on), holidays, weekends=window.roll_weekend
        ), {}
    every = view.get("every_days")
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        return None, {}
    last = max((e.occurred_on for e in story if e.type in rule.contacts), default=event.occurred_on)
    return last + timedelta(days=every), {}


def _stay_known(story: list[Recorded], arrival: Recorded, place: str) -> bool:
    """Whether a legal stay in `place` is known on the day of `arrival`, from the events before it."""
    until: date | None = None
    known = False
    for event in story:
        if event.sort_key >= arrival.sort_key:
            break
        if event.data.get("country") != place:
            continue
        if event.type in ("stay_permitted", "stay_extended"):
            known, until = True, _as_date(event.data.get("valid_until"))
        elif event.type == "stay_ended":
            known, until = False, None
    return known and (until is None or until >= arrival.occurred_on)


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


class _Unknown(dict[str, str]):
    # A title naming a field the event lacks shows "?" instead of failing.
    def __missing__(self, key: str) -> str:
        return "?"
