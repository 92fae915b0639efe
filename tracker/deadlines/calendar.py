"""Pure due-date arithmetic: periods counted the way the law counts them, and roll-forward."""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

#: Units a period may be given in; months and years are calendar months and years.
UNITS = ("days", "weeks", "months", "years")
#: The longest period of each unit, about 100 years: no legal period comes near it, and every date
#: an event may give (up to 2199) plus this stays a date Python can count.
MAX_COUNT = {"days": 36500, "weeks": 5200, "months": 1200, "years": 100}


@dataclass(frozen=True, slots=True)
class Period:
    """A number of days, weeks, calendar months or calendar years."""

    count: int
    unit: str

    def __str__(self) -> str:
        return f"{self.count} {self.unit[:-1] if self.count == 1 else self.unit}"

    def after(self, start: date) -> date:
        """The day on which this period, starting on `start`, ends."""
        return add_period(start, self.count, self.unit)


def parse_period(text: str) -> Period:
    """`"2 weeks"`, `"1 month"` ... as a Period; ValueError with a readable message otherwise."""
    match = re.fullmatch(r"\s*(-?)(\d+)\s*([A-Za-z]+)\s*", text)
    if match is None:
        raise ValueError(f'must be a number and a unit, like "30 days" or "1 month", not {text!r}')
    sign, digits, unit = match[1], match[2].lstrip("0") or "0", match[3].lower()
    unit = unit if unit.endswith("s") else unit + "s"
    if unit not in UNITS:
        raise ValueError(f"{text!r}: unit must be one of {', '.join(UNITS)}")
    # Never more digits than int() takes (and a number that long is too large anyway).
    count = (int(digits) if len(digits) <= 9 else MAX_COUNT[unit] + 1) * (-1 if sign else 1)
    if count < 1:
        raise ValueError(f"{text!r}: the number must be 1 or more")
    if count > MAX_COUNT[unit]:
        raise ValueError(f"{text!r}: at most {MAX_COUNT[unit]} {unit} (100 years)")
    return Period(count, unit)


def add_period(start: date, count: int, unit: str) -> date:
    """The day on which a period of `count` units that starts on `start` ends."""
    if count < 0:
        raise ValueError(f"a period cannot be negative: {count} {unit}")
    if unit == "days":
        return start + timedelta(days=count)
    if unit == "weeks":
        return start + timedelta(weeks=count)
    if unit == "months":
        return _add_months(start, count)
    if unit == "years":
        return _add_months(start, 12 * count)
    raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")


def _add_months(start: date, months: int) -> date:
    # Same day number in the target month, or that month's last day when it has no such day
    # (31 January + 1 month = 28/29 February; 29 February + 1 year = 28 February).
    year, month0 = divmod(start.year * 12 + start.month - 1 + months, 12)
    month = month0 + 1
    return date(year, month, min(start.day, monthrange(year, month)[1]))


def is_working_day(day: date, holidays: Collection[date] = frozenset(), *, weekends: bool = True) -> bool:
    """False on a listed holiday, and on Saturday or Sunday when weekends count as non-working."""
    return day not in holidays and not (weekends and day.weekday() >= 5)


def roll_forward(day: date, holidays: Collection[date] = frozenset(), *, weekends: bool = True) -> date:
    """`day` itself if it is a working day, else the next working day.

    `weekends=False` leaves a Saturday or Sunday where it is, but a day that has to move (a holiday)
    always ends on a working day: neither a holiday nor a Saturday or Sunday.
    """
    if is_working_day(day, holidays, weekends=weekends):
        return day
    day += timedelta(days=1)
    while not is_working_day(day, holidays):
        day += timedelta(days=1)
    return day
