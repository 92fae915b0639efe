"""A case's crossings and permits read from its effective events, and its stay count: pure.

fled_country counts as leaving from_country and entering to_country; relocated to another country
as leaving the one the person was in (when known) and entering the new one; border_crossed says
itself which. Stored events are read as they stand: nothing is rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from tracker.events.record import Recorded
from tracker.stay.count import ENTERED, LEFT, Crossing, Span
from tracker.stay.plan import StayCount, count, plan
from tracker.stay.rules import StayRule, StayRules

#: The event types that move the stay count.
CROSSING_TYPES = frozenset({"border_crossed", "fled_country", "relocated"})
PERMIT_TYPES = frozenset({"stay_permitted", "stay_extended", "stay_ended"})
STAY_TYPES = CROSSING_TYPES | PERMIT_TYPES


@dataclass
class _Permit:
    country: str
    kind: str | None
    first: date
    end: date | None


@dataclass
class History:
    """What the stay count needs from a case's story."""

    crossings: list[Crossing] = field(default_factory=list)
    crossed_by: list[str] = field(default_factory=list)  # the id of the event of each crossing
    permits: list[_Permit] = field(default_factory=list)
    citizenship: str | None = None
    country: str | None = None  # where the person is at the end of the story (None: unknown)
    last_left: str | None = None  # the country the person left last

    def add(self, event: Recorded, country: str, direction: str) -> None:
        self.crossings.append(Crossing(event.occurred_on, country, direction))
        self.crossed_by.append(event.id)

    def pauses(self, rule: StayRule) -> list[Span]:
        """The spans in which a permit of the rule's countries stops its count."""
        return [
            (p.first, p.end)
            for p in self.permits
            if p.country in rule.countries
            and p.kind in rule.paused_by
            and (p.end is None or p.end >= p.first)
        ]


def _text(data: Any, key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def read_history(
    story: Sequence[Recorded], as_of: date | None = None, citizenship: str | None = None
) -> History:
    """The crossings and permits of effective events in story order, up to `as_of`.

    The citizenship is who the case is about, not a fact of a day: it is read from case_opened
    whatever its date (a case is often opened after the person crossed), unless given."""
    h = History()
    opened = [_text(e.data, "citizenship") for e in story if e.type == "case_opened"]
    h.citizenship = citizenship or (opened[-1] if opened else None)
    for e in story:
        data = e.data
        if as_of is not None and e.occurred_on > as_of:
            continue
        if e.type == "border_crossed":
            country, direction = _text(data, "country"), _text(data, "direction")
            if country is None or direction not in (ENTERED, LEFT):
                continue
            h.add(e, country, direction)
            if direction == ENTERED:
                h.country = country
            else:
                h.last_left = country
                h.country = None if h.country == country else h.country
        elif e.type == "fled_country":
            source, target = _text(data, "from_country"), _text(data, "to_country")
            if source is not None:
                h.add(e, source, LEFT)
                h.last_left = source
            if target is not None:
                h.add(e, target, ENTERED)
                h.country = target
        elif e.type == "relocated":
            target = _text(data, "country")
            if target is None or target == h.country:
                continue
            if h.country is not None:
                h.add(e, h.country, LEFT)
                h.last_left = h.country
            h.add(e, target, ENTERED)
            h.country = target
        elif e.type in PERMIT_TYPES:
            _permit(h, e)
    return h


def _permit(h: History, e: Recorded) -> None:
    country = _text(e.data, "country")
    if country is None:
        return
    mine = [p for p in h.permits if p.country == country]
    if e.type == "stay_permitted":
        first = _day(e.data.get("valid_from")) or e.occurred_on
        h.permits.append(_Permit(country, _text(e.data, "kind"), first, _day(e.data.get("valid_until"))))
    elif e.type == "stay_extended" and mine:
        mine[-1].end = _day(e.data.get("valid_until")) or mine[-1].end
    elif e.type == "stay_ended":
        # The count resumes on the day the stay ended.
        last = e.occurred_on - timedelta(days=1)
        for p in mine:
            if p.end is None or p.end > last:
                p.end = last


def counted_rule(h: History, rules: StayRules) -> tuple[str, StayRule] | None:
    """The country counted (the one the person is in, else the one left last) and its rule."""
    country = h.country or h.last_left
    rule = rules.rule_for(country, h.citizenship)
    return (country, rule) if country is not None and rule is not None else None


def stay_count(
    story: Sequence[Recorded], rules: StayRules, as_of: date, citizenship: str | None = None
) -> tuple[str, StayRule, StayCount] | None:
    """The count of the country the person is in (or left last), on `as_of`; None when no rule applies."""
    h = read_history(story, as_of, citizenship)
    found = counted_rule(h, rules)
    if found is None:
        return None
    country, rule = found
    return country, rule, count(h.crossings, h.pauses(rule), rule.limits, rule.countries, as_of)


def stay_status(story: Sequence[Recorded], rules: StayRules, as_of: date) -> dict[str, Any] | None:
    """The `stay_count` part of the status, or None when no rule counts the person's stay."""
    found = stay_count(story, rules, as_of)
    if found is None:
        return None
    country, rule, counted = found
    return {"country": country, "rule": rule.as_dict(), **counted.as_dict()}


def stay_plan(
    story: Sequence[Recorded], rules: StayRules, as_of: date, leave_on: date | None, return_on: date | None
) -> dict[str, Any] | None:
    """The planner's answer for the counted country; None when no rule counts the person's stay."""
    h = read_history(story, as_of)
    found = counted_rule(h, rules)
    if found is None:
        return None
    country, rule = found
    answer = plan(h.crossings, h.pauses(rule), rule.limits, rule.countries, as_of, leave_on, return_on)
    return {"country": country, "rule": rule.as_dict(), **answer}
