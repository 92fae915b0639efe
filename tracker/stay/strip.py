"""The last months of presence as one state per day, for the calendar picture: pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from tracker.events.record import Recorded
from tracker.stay.count import presence
from tracker.stay.history import counted_rule, read_history
from tracker.stay.rules import StayRules

PRESENT, ABSENT, PERMIT = "present", "absent", "permit"


@dataclass(frozen=True, slots=True)
class Strip:
    """One state per day from `first` to `last`, and where the rule's window begins on `last`."""

    country: str
    first: date
    last: date
    days: tuple[str, ...]
    window_start: date | None


def strip(story: Sequence[Recorded], rules: StayRules, last: date, days: int = 365) -> Strip | None:
    """Presence in the counted country over the `days` days ending on `last`; None when nothing counts."""
    h = read_history(story, last)
    found = counted_rule(h, rules)
    if found is None:
        return None
    country, rule = found
    first = last - timedelta(days=days - 1)
    seen = presence(h.crossings, rule.countries, last)
    state = [ABSENT] * days
    for start, end in seen.stays:
        for i in range(max((start - first).days, 0), min((end - first).days, days - 1) + 1):
            state[i] = PRESENT
    for begin, until in h.pauses(rule):
        stop = days - 1 if until is None else min((until - first).days, days - 1)
        for i in range(max((begin - first).days, 0), stop + 1):
            if state[i] == PRESENT:
                state[i] = PERMIT
    window = rule.limits.window_days
    edge = last - timedelta(days=window - 1) if window is not None and window <= days else None
    return Strip(country, first, last, tuple(state), edge)
