"""Due-date arithmetic: calendar months and years, weeks, plain days, roll-forward."""

from datetime import date

import pytest

from tracker.deadlines.calendar import Period, add_period, parse_period, roll_forward


@pytest.mark.parametrize(
    ("start", "count", "unit", "end"),
    [
        ("2023-01-31", 1, "months", "2023-02-28"),
        ("2024-01-31", 1, "months", "2024-02-29"),  # leap year
        ("2023-04-30", 1, "months", "2023-05-30"),
        ("2023-03-31", 1, "months", "2023-04-30"),
        ("2023-12-15", 1, "months", "2024-01-15"),
        ("2023-11-30", 3, "months", "2024-02-29"),
        ("2024-02-29", 1, "years", "2025-02-28"),
        ("2023-03-10", 1, "years", "2024-03-10"),
        ("2023-06-07", 2, "weeks", "2023-06-21"),
        ("2023-06-01", 30, "days", "2023-07-01"),
        ("2023-12-20", 0, "days", "2023-12-20"),
    ],
)
def test_add_period(start: str, count: int, unit: str, end: str) -> None:
    assert add_period(date.fromisoformat(start), count, unit) == date.fromisoformat(end)


def test_weeks_end_on_the_same_weekday() -> None:
    start = date(2023, 6, 7)
    assert add_period(start, 2, "weeks").weekday() == start.weekday()


@pytest.mark.parametrize(("count", "unit"), [(-1, "days"), (1, "fortnights")])
def test_add_period_refuses_nonsense(count: int, unit: str) -> None:
    with pytest.raises(ValueError):
        add_period(date(2023, 1, 1), count, unit)


def test_roll_forward_moves_a_weekend_to_monday() -> None:
    assert roll_forward(date(2023, 7, 1)) == date(2023, 7, 3)  # Saturday -> Monday
    assert roll_forward(date(2023, 7, 2)) == date(2023, 7, 3)  # Sunday -> Monday
    assert roll_forward(date(2023, 7, 3)) == date(2023, 7, 3)


def test_roll_forward_skips_holidays_and_the_weekend_after_them() -> None:
    friday_holiday = {date(2023, 6, 23), date(2023, 6, 26)}
    assert roll_forward(date(2023, 6, 23), friday_holiday) == date(2023, 6, 27)


def test_roll_forward_without_weekends_leaves_a_weekend_but_moves_a_holiday_to_a_working_day() -> None:
    assert roll_forward(date(2023, 7, 1), weekends=False) == date(2023, 7, 1)  # a Saturday stays
    # A Friday holiday ends on the next working day: not the Saturday after it, the Monday.
    assert roll_forward(date(2023, 6, 23), {date(2023, 6, 23)}, weekends=False) == date(2023, 6, 26)
    assert roll_forward(date(2023, 6, 22), {date(2023, 6, 22)}, weekends=False) == date(2023, 6, 23)
    # A holiday on the Monday after the weekend is skipped too.
    both = {date(2023, 6, 23), date(2023, 6, 26)}
    assert roll_forward(date(2023, 6, 23), both, weekends=False) == date(2023, 6, 27)


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("1 month", Period(1, "months")),
        ("2 weeks", Period(2, "weeks")),
        ("30 days", Period(30, "days")),
        ("1 year", Period(1, "years")),
        (" 3 Days ", Period(3, "days")),
    ],
)
def test_parse_period(text: str, period: Period) -> None:
    assert parse_period(text) == period
    assert str(period) == text.strip().lower()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("two weeks", "a number and a unit"),
        ("2 fortnights", "unit must be one of"),
        ("-1 weeks", "1 or more"),
        ("36501 days", "at most 36500 days"),
        ("5201 weeks", "at most 5200 weeks"),
        ("1201 months", "at most 1200 months"),
        ("101 years", "at most 100 years"),
        ("999999999 days", "at most 36500 days"),
        ("9" * 5000 + " days", "at most 36500 days"),
    ],
)
def test_parse_period_explains_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_period(text)


@pytest.mark.parametrize("text", ["36500 days", "5200 weeks", "1200 months", "100 years"])
def test_a_period_of_a_hundred_years_is_the_longest_and_still_counts(text: str) -> None:
    period = parse_period(text)
    assert period.after(date(2199, 12, 31)) > date(2299, 1, 1)  # the last date an event may give
