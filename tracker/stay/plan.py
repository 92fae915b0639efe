"""The stay count on a day, and the planner's "if he leaves on D1 and returns on D2": pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from tracker.stay.count import (
    Calendar,
    Crossing,
    Limits,
    Span,
    earliest_entry,
    last_lawful_day,
    presence,
)


@dataclass(frozen=True, slots=True)
class StayCount:
    """Where the count of a country stands on `as_of`."""

    as_of: date
    inside: bool
    entered_on: date | None
    used: dict[str, int]
    last_lawful_day: date | None
    earliest_entry: date | None
    paused: bool
    warnings: tuple[str, ...]

    @property
    def days_used(self) -> int:
        """Days used under the rule's main limit: the window, else the stay, else the year."""
        return next((self.used[k] for k in ("window", "stay", "year") if k in self.used), 0)

    @property
    def days_left(self) -> int | None:
        """Days the person may still stay after as_of (negative: overstayed by that many)."""
        if not self.inside or self.last_lawful_day is None:
            return None
        return (self.last_lawful_day - self.as_of).days

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "present": self.inside,
            "entered_on": _iso(self.entered_on),
            "days_used": self.days_used,
            "used": dict(self.used),
            "days_left": self.days_left,
            "last_lawful_day": _iso(self.last_lawful_day),
            "earliest_reentry": _iso(self.earliest_entry),
            "paused": self.paused,
            "warnings": list(self.warnings),
        }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _reach(limits: Limits) -> timedelta:
    return timedelta(days=max(limits.window_days or 0, 366) + 1)


def count(
    crossings: list[Crossing], pauses: list[Span], limits: Limits, countries: frozenset[str], as_of: date
) -> StayCount:
    """The count on `as_of` for a stay in `countries` (one country, or the members of an area)."""
    seen = presence(crossings, countries, as_of)
    stays = list(seen.stays)
    entered = seen.entered_on
    stay_start = seen.stay_on(as_of)
    calendar = Calendar(stays, pauses, min(stay_start or as_of, as_of) - _reach(limits), as_of)
    day = as_of.toordinal()
    used = calendar.used(limits, day, stay_start.toordinal() if stay_start else None)
    last = last_lawful_day(stays, pauses, limits, entered, as_of) if entered is not None else None
    after = as_of + timedelta(days=1) if seen.inside or seen.last_day == as_of else as_of
    return StayCount(
        as_of=as_of,
        inside=seen.inside,
        entered_on=entered,
        used=used,
        last_lawful_day=last,
        earliest_entry=earliest_entry(stays, pauses, limits, after),
        paused=calendar.is_paused(day),
        warnings=seen.warnings,
    )


class PlanError(ValueError):
    """A plan that cannot be answered; the message names the field."""

    def __init__(self, field: str, message: str, reason: str, day: date | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.reason, self.day = field, message, reason, day


def plan(
    crossings: list[Crossing],
    pauses: list[Span],
    limits: Limits,
    countries: frozenset[str],
    as_of: date,
    leave_on: date | None,
    return_on: date | None,
) -> dict[str, Any]:
    """What leaving on `leave_on` and coming back on `return_on` would mean; nothing is recorded."""
    seen = presence(crossings, countries, as_of)
    stays = list(seen.stays)
    out: dict[str, Any] = {"as_of": as_of.isoformat(), "present": seen.inside}
    last_present = seen.last_day
    if seen.inside:
        if leave_on is None:
            raise PlanError("leave_on", "is required while the person is in the country", "required")
        if leave_on < as_of:
            raise PlanError("leave_on", f"must not be before {as_of.isoformat()}", "before", as_of)
        entered = seen.entered_on or as_of
        last = last_lawful_day(stays, pauses, limits, entered, as_of)
        stays = [
            (first, leave_on if last_day == as_of and first in seen.open_since else last_day)
            for first, last_day in stays
        ]
        calendar = Calendar(stays, pauses, min(entered, as_of) - _reach(limits), leave_on)
        out.update(
            leave_on=leave_on.isoformat(),
            last_lawful_day=_iso(last),
            lawful_until_leave=last is None or leave_on <= last,
            used_on_leave=calendar.used(limits, leave_on.toordinal(), entered.toordinal()),
        )
        last_present = leave_on
    elif leave_on is not None:
        raise PlanError("leave_on", "the person is not in the country now; give return_on only", "outside")
    after = max(as_of, last_present + timedelta(days=1)) if last_present is not None else as_of
    out["earliest_return"] = _iso(earliest_entry(stays, pauses, limits, after))
    if return_on is not None:
        if return_on < after:
            raise PlanError("return_on", f"must be {after.isoformat()} or later", "later", after)
        first_allowed = earliest_entry(stays, pauses, limits, return_on)
        lawful = first_allowed == return_on
        until = last_lawful_day(stays, pauses, limits, return_on, return_on) if lawful else None
        out.update(
            return_on=return_on.isoformat(),
            return_lawful=lawful,
            may_stay_until=_iso(until),
            days_on_return=(until - return_on).days + 1 if until is not None else None,
        )
    return out
