"""Stay-day arithmetic: presence from border crossings, counted against the limits of a stay rule.

Pure and fast: days are ordinals in a bytearray with prefix sums, so a question about one day costs
O(1) after O(days) of set-up. Definitions (docs/stay.md says why):

- A day is a day of presence when the person crossed the border that day (entering or leaving), or
  was inside at its start (the last crossing before it was an entry). An entry with no exit after it
  is presence until `as_of`.
- Contradictory crossings are accepted: a second entry without an exit continues the stay, an exit
  without an entry counts only its own day; each gives a warning.
- A day covered by a pause (a permit that stops the count) is not counted, though present.
- Limits: at most `window_max` counted days in any `window_days` days ending on a day (N in M), at
  most `max_per_stay` counted days since the entry that began the stay, at most `yearly` counted
  days in a calendar year. A counted day that breaks one of them is unlawful.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate

ENTERED, LEFT = "entered", "left"
# How far past the last known pause the search for the first unlawful day goes: enough for any
# limit to be reached by continuous presence (a year's allowance restarts on 1 January).
_HORIZON = 2 * 366 + 1
_CENTURY = 36525


@dataclass(frozen=True, slots=True)
class Crossing:
    """One crossing of a border: the person entered or left `country` on `on`."""

    on: date
    country: str
    direction: str


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one stay rule; None means no such limit."""

    window_max: int | None = None
    window_days: int | None = None
    max_per_stay: int | None = None
    yearly: int | None = None

    @property
    def any(self) -> bool:
        return self.window_max is not None or self.max_per_stay is not None or self.yearly is not None


#: A span of days (first, last) inclusive; last None = open-ended.
Span = tuple[date, date | None]


@dataclass(frozen=True, slots=True)
class Presence:
    """The stays in a country (or area) known as of a day, and what looked contradictory."""

    stays: tuple[tuple[date, date], ...]
    open_since: tuple[date, ...]
    warnings: tuple[str, ...]

    @property
    def inside(self) -> bool:
        return bool(self.open_since)

    @property
    def entered_on(self) -> date | None:
        """The entry day of the stay going on at as_of (None when outside); in an area where the
        records say several members at once, the earliest of their entries."""
        return min(self.open_since, default=None)

    def stay_on(self, day: date) -> date | None:
        """The entry day of the stay that takes in `day`; of several, the earliest."""
        return min((first for first, last in self.stays if first <= day <= last), default=None)

    @property
    def last_day(self) -> date | None:
        return max((last for _, last in self.stays), default=None)


def presence(crossings: list[Crossing], countries: frozenset[str], as_of: date) -> Presence:
    """The stays in `countries` from crossings in story order; those after `as_of` do not count."""
    stays: list[tuple[date, date]] = []
    warnings: list[str] = []
    open_: list[date] = []
    for country in sorted(countries):
        since: date | None = None
        for c in crossings:
            if c.country != country or c.on > as_of:
                continue
            if c.direction == ENTERED:
                if since is not None:
                    warnings.append(
                        f"entered {country} on {c.on} with no exit recorded since entering on {since}"
                    )
                    continue
                since = c.on
            elif since is None:
                warnings.append(f"left {country} on {c.on} with no entry recorded before")
                stays.append((c.on, c.on))
            else:
                stays.append((since, c.on))
                since = None
        if since is not None:
            stays.append((since, as_of))
            open_.append(since)
    stays.sort()
    if len(open_) > 1:
        warnings.append("inside more than one country of the area at once; the stays are counted together")
    return Presence(tuple(stays), tuple(open_), tuple(warnings))


class Calendar:
    """Counted days (present and not paused) over a range, with O(1) counts per day."""

    def __init__(self, stays: list[tuple[date, date]], pauses: list[Span], lo: date, hi: date) -> None:
        self.lo, self.hi = lo.toordinal(), hi.toordinal()
        size = self.hi - self.lo + 1
        days = bytearray(size)
        for first, last in stays:
            a, b = max(first.toordinal(), self.lo), min(last.toordinal(), self.hi)
            if a <= b:
                days[a - self.lo : b - self.lo + 1] = b"\x01" * (b - a + 1)
        paused = bytearray(size)
        for first, end in pauses:
            a = max(first.toordinal(), self.lo)
            b = self.hi if end is None else min(end.toordinal(), self.hi)
            if a <= b:
                paused[a - self.lo : b - self.lo + 1] = b"\x01" * (b - a + 1)
                days[a - self.lo : b - self.lo + 1] = bytes(b - a + 1)
        self.counted = days
        self.paused = paused
        self.prefix = list(accumulate(days, initial=0))

    def between(self, first: int, last: int) -> int:
        """Counted days from ordinal `first` to `last` inclusive."""
        a, b = max(first, self.lo), min(last, self.hi)
        return self.prefix[b - self.lo + 1] - self.prefix[a - self.lo] if a <= b else 0

    def is_counted(self, day: int) -> bool:
        return self.lo <= day <= self.hi and bool(self.counted[day - self.lo])

    def is_paused(self, day: int) -> bool:
        return self.lo <= day <= self.hi and bool(self.paused[day - self.lo])

    def used(self, limits: Limits, day: int, entered: int | None) -> dict[str, int]:
        """The counted days on `day` under each limit of `limits`."""
        out: dict[str, int] = {}
        if limits.window_max is not None and limits.window_days is not None:
            out["window"] = self.between(day - limits.window_days + 1, day)
        if limits.max_per_stay is not None and entered is not None:
            out["stay"] = self.between(entered, day)
        if limits.yearly is not None:
            out["year"] = self.between(date(date.fromordinal(day).year, 1, 1).toordinal(), day)
        return out

    def breaks(self, limits: Limits, day: int, entered: int | None) -> bool:
        """Whether `day` is counted and over one of the limits."""
        if not self.is_counted(day):
            return False
        used = self.used(limits, day, entered)
        over = (
            ("window", limits.window_max),
            ("stay", limits.max_per_stay),
            ("year", limits.yearly),
        )
        return any(most is not None and used.get(name, 0) > most for name, most in over)


def _reach(limits: Limits) -> int:
    return max(limits.window_days or 0, 366) + 1


def _end_of_pauses(pauses: list[Span], after: date) -> date | None:
    """The last day of the known pauses (or `after`); None when a pause never ends."""
    last = after
    for _, end in pauses:
        if end is None:
            return None
        last = max(last, end)
    return last


def last_lawful_day(
    stays: list[tuple[date, date]], pauses: list[Span], limits: Limits, entered: date, from_day: date
) -> date | None:
    """The last lawful day of the stay begun on `entered` if the person stays on after `from_day`;
    None when no limit is ever reached (no limits, or a pause with no end)."""
    if not limits.any:
        return None
    # A permit valid for more than a century (up to the calendar's 2999) is as good as endless, and
    # walking to its end day by day would take seconds.
    far = from_day + timedelta(days=_CENTURY)
    pauses = [(first, None if end is not None and end > far else end) for first, end in pauses]
    pause_end = _end_of_pauses(pauses, from_day)
    hi = (pause_end or from_day) + timedelta(days=_HORIZON)
    # Past the start of a pause that never ends, no day is counted again.
    endless = min((first.toordinal() for first, end in pauses if end is None), default=None)
    lo = min(entered, from_day) - timedelta(days=_reach(limits))
    calendar = Calendar([*stays, (entered, hi)] if from_day >= entered else stays, pauses, lo, hi)
    start = entered.toordinal()
    for day in range(start, hi.toordinal() + 1):
        if calendar.breaks(limits, day, start):
            return date.fromordinal(day - 1)
        if endless is not None and day >= endless:
            return None
    return None


def earliest_entry(
    stays: list[tuple[date, date]], pauses: list[Span], limits: Limits, not_before: date
) -> date | None:
    """The first day on or after `not_before` on which entering (one day of presence) is lawful."""
    if not limits.any:
        return not_before
    hi = not_before + timedelta(days=_HORIZON + (limits.window_days or 0))
    lo = min([not_before, *(first for first, _ in stays)]) - timedelta(days=_reach(limits))
    calendar = Calendar(stays, pauses, lo, hi)
    n, m = limits.window_max, limits.window_days
    for day in range(not_before.toordinal(), hi.toordinal() + 1):
        if calendar.is_paused(day):
            return date.fromordinal(day)
        if n is not None and m is not None and calendar.between(day - m + 1, day) + 1 > n:
            continue
        if limits.yearly is not None:
            year_start = date(date.fromordinal(day).year, 1, 1).toordinal()
            if calendar.between(year_start, day) + 1 > limits.yearly:
                continue
        if limits.max_per_stay is not None and limits.max_per_stay < 1:
            return None
        return date.fromordinal(day)
    return None
