"""Stay-day arithmetic against a plain day-by-day oracle, and worked examples (Schengen, Kazakhstan)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.stay.count import Crossing, Limits, Span
from tracker.stay.plan import PlanError, count, plan

D = date.fromisoformat
KZ = frozenset({"KZ"})
AREA = frozenset({"FR", "DE"})
EAEU_KZ = Limits(window_max=90, window_days=180)
OTHERS_KZ = Limits(window_max=90, window_days=180, max_per_stay=30)
SCHENGEN = Limits(window_max=90, window_days=180)


def cross(*steps: tuple[str, str, str]) -> list[Crossing]:
    return [Crossing(D(on), country, direction) for on, country, direction in steps]


# ------------------------------------------------------------------------------------------ oracle
# Deliberately naive: walks the calendar one day at a time with sets, no intervals or prefix sums.


class Oracle:
    def __init__(self, crossings: list[Crossing], pauses: list[Span], limits: Limits, countries, as_of):
        self.limits, self.as_of, self.pauses = limits, as_of, pauses
        self.present: set[date] = set()
        self.entries: dict[date, date] = {}  # day -> entry day of the stay it belongs to
        self.inside_at_end = False
        open_since: list[date] = []
        for country in countries:
            mine = [c for c in crossings if c.country == country and c.on <= as_of]
            if not mine:
                continue
            inside, since = False, None
            day = min(c.on for c in mine)
            while day <= as_of:
                today = [c for c in mine if c.on == day]
                if inside or today:
                    self.present.add(day)
                    began = since if inside else day
                    self.entries[day] = min(self.entries.get(day, began), began)
                for c in today:
                    if c.direction == "entered" and not inside:
                        inside, since = True, day
                    elif c.direction == "left":
                        inside = False
                day += timedelta(days=1)
            self.inside_at_end = self.inside_at_end or inside
            if inside:
                open_since.append(since)
        self.entered = min(open_since, default=None)

    def paused(self, day: date) -> bool:
        return any(first <= day and (end is None or day <= end) for first, end in self.pauses)

    def counted(self, day: date, present: set[date]) -> bool:
        return day in present and not self.paused(day)

    def used(self, day: date, present: set[date], entered: date | None) -> dict[str, int]:
        lim, out = self.limits, {}
        if lim.window_max is not None:
            out["window"] = sum(
                self.counted(day - timedelta(days=k), present) for k in range(lim.window_days)
            )
        if lim.max_per_stay is not None and entered is not None:
            out["stay"] = sum(
                self.counted(entered + timedelta(days=k), present) for k in range((day - entered).days + 1)
            )
        if lim.yearly is not None:
            first = date(day.year, 1, 1)
            out["year"] = sum(
                self.counted(first + timedelta(days=k), present) for k in range((day - first).days + 1)
            )
        return out

    def over(self, day: date, present: set[date], entered: date) -> bool:
        used, lim = self.used(day, present, entered), self.limits
        return self.counted(day, present) and (
            (lim.window_max is not None and used["window"] > lim.window_max)
            or (lim.max_per_stay is not None and used["stay"] > lim.max_per_stay)
            or (lim.yearly is not None and used["year"] > lim.yearly)
        )

    def horizon(self) -> date:
        ends = [end or self.as_of for _, end in self.pauses]
        return max([self.as_of, *ends]) + timedelta(days=2 * 366 + 1)

    def last_lawful(self, present: set[date], entered: date) -> date | None:
        if not self.limits.any:
            return None
        day = entered
        while day <= self.horizon():
            if self.over(day, present, entered):
                return day - timedelta(days=1)
            day += timedelta(days=1)
        return None

    def earliest(self, not_before: date, present: set[date]) -> date | None:
        day = not_before
        while day <= self.horizon() + timedelta(days=200):
            if self.paused(day) or not self.over(day, present | {day}, day):
                return day
            day += timedelta(days=1)
        return None

    def staying_on(self) -> set[date]:
        extra = {self.as_of + timedelta(days=k) for k in range(1, (self.horizon() - self.as_of).days + 1)}
        return self.present | extra


# ------------------------------------------------------------------------------- random histories

BASE = date(2023, 1, 1)


@st.composite
def histories(draw):
    days = sorted(draw(st.lists(st.integers(0, 120), max_size=12)))
    crossings = [
        Crossing(
            BASE + timedelta(days=d),
            draw(st.sampled_from(["FR", "DE", "KZ"])),
            draw(st.sampled_from(["entered", "left"])),
        )
        for d in days
    ]
    pauses: list[Span] = []
    for _ in range(draw(st.integers(0, 2))):
        first = BASE + timedelta(days=draw(st.integers(0, 150)))
        length = draw(st.one_of(st.none(), st.integers(0, 40)))
        pauses.append((first, None if length is None else first + timedelta(days=length)))
    window_days = draw(st.integers(2, 40))
    limits = Limits(
        window_max=draw(st.one_of(st.none(), st.integers(1, window_days))),
        window_days=window_days,
        max_per_stay=draw(st.one_of(st.none(), st.integers(1, 30))),
        yearly=draw(st.one_of(st.none(), st.integers(1, 60))),
    )
    as_of = BASE + timedelta(days=draw(st.integers(0, 140)))
    countries = draw(st.sampled_from([KZ, AREA]))
    return crossings, pauses, limits, countries, as_of


@settings(max_examples=150, deadline=None)
@given(histories())
def test_the_count_agrees_with_a_day_by_day_oracle(history):
    crossings, pauses, limits, countries, as_of = history
    got = count(crossings, pauses, limits, countries, as_of)
    oracle = Oracle(crossings, pauses, limits, countries, as_of)
    assert got.inside == oracle.inside_at_end
    entered = oracle.entered
    stay_start = oracle.entries.get(as_of)
    assert got.used == oracle.used(as_of, oracle.present, stay_start)
    assert got.paused == oracle.paused(as_of)
    if oracle.inside_at_end:
        assert got.entered_on == entered
        assert got.last_lawful_day == oracle.last_lawful(oracle.staying_on(), entered)
    else:
        assert got.last_lawful_day is None
    after = as_of + timedelta(days=1) if oracle.inside_at_end or as_of in oracle.present else as_of
    if limits.any:
        assert got.earliest_entry == oracle.earliest(after, oracle.present)


@settings(max_examples=100, deadline=None)
@given(histories(), st.integers(0, 30), st.integers(1, 60))
def test_the_plan_agrees_with_the_oracle(history, stay_more, away):
    crossings, pauses, limits, countries, as_of = history
    oracle = Oracle(crossings, pauses, limits, countries, as_of)
    if not oracle.inside_at_end:
        return
    leave_on = as_of + timedelta(days=stay_more)
    return_on = leave_on + timedelta(days=away)
    got = plan(crossings, pauses, limits, countries, as_of, leave_on, return_on)
    before_leaving = oracle.present | {as_of + timedelta(days=k) for k in range(stay_more + 1)}
    lawful = oracle.earliest(return_on, before_leaving) == return_on
    assert got["return_lawful"] == lawful
    if lawful and limits.any:
        back = before_leaving | {return_on + timedelta(days=k) for k in range(0, 2000)}
        until = oracle.last_lawful(back, return_on)
        assert got["may_stay_until"] == (until.isoformat() if until else None)


# ------------------------------------------------------------------------------- worked examples


def test_kazakhstan_eaeu_citizen_may_stay_90_days_from_1_february():
    crossings = cross(("2023-02-01", "KZ", "entered"))
    got = count(crossings, [], EAEU_KZ, KZ, D("2023-02-01"))
    assert got.last_lawful_day == D("2023-05-01")
    assert got.days_used == 1 and got.days_left == 89
    on_the_last_day = count(crossings, [], EAEU_KZ, KZ, D("2023-05-01"))
    assert on_the_last_day.days_used == 90 and on_the_last_day.days_left == 0
    assert count(crossings, [], EAEU_KZ, KZ, D("2023-05-02")).days_left == -1  # overstayed by a day


def test_kazakhstan_leaving_on_the_last_day_re_entry_on_31_july_at_the_earliest():
    crossings = cross(("2023-02-01", "KZ", "entered"), ("2023-05-01", "KZ", "left"))
    got = count(crossings, [], EAEU_KZ, KZ, D("2023-05-01"))
    assert not got.inside and got.days_used == 90
    assert got.earliest_entry == D("2023-07-31")
    # The planner says the same before he leaves; 30 July is a day too early.
    before = cross(("2023-02-01", "KZ", "entered"))
    answer = plan(before, [], EAEU_KZ, KZ, D("2023-03-01"), D("2023-05-01"), D("2023-07-30"))
    assert answer["earliest_return"] == "2023-07-31"
    assert answer["lawful_until_leave"] is True and answer["return_lawful"] is False
    ok = plan(before, [], EAEU_KZ, KZ, D("2023-03-01"), D("2023-05-01"), D("2023-07-31"))
    assert ok["return_lawful"] is True and ok["days_on_return"] >= 1


def test_kazakhstan_a_temporary_residence_permit_pauses_the_count():
    crossings = cross(("2023-02-01", "KZ", "entered"))
    permit = [(D("2023-03-01"), D("2023-09-01"))]
    during = count(crossings, permit, EAEU_KZ, KZ, D("2023-06-01"))
    assert during.paused and during.days_used == 28  # February only
    # The count resumes on 2 September with February out of the window: 90 more days.
    assert during.last_lawful_day == D("2023-11-30")
    assert count(crossings, permit, EAEU_KZ, KZ, D("2023-09-10")).days_used == 9
    # A permit with no end stops the count for good.
    assert count(crossings, [(D("2023-03-01"), None)], EAEU_KZ, KZ, D("2023-06-01")).last_lawful_day is None


def test_kazakhstan_other_foreigners_30_days_from_each_entry_and_90_in_180():
    crossings = cross(("2023-02-01", "KZ", "entered"))
    assert count(crossings, [], OTHERS_KZ, KZ, D("2023-02-01")).last_lawful_day == D("2023-03-02")
    runs = cross(
        ("2023-02-01", "KZ", "entered"), ("2023-03-02", "KZ", "left"),
        ("2023-03-03", "KZ", "entered"), ("2023-04-01", "KZ", "left"),
        ("2023-04-02", "KZ", "entered"),
    )  # fmt: skip
    # Visa runs no longer reset the count: 60 days used, the third stay ends at 90 in 180.
    got = count(runs, [], OTHERS_KZ, KZ, D("2023-04-02"))
    assert got.used == {"window": 61, "stay": 1}
    assert got.last_lawful_day == D("2023-05-01")


def test_schengen_a_stay_that_reaches_exactly_day_90():
    crossings = cross(("2024-01-01", "FR", "entered"))
    got = count(crossings, [], SCHENGEN, AREA, D("2024-03-30"))
    assert got.days_used == 90 and got.days_left == 0 and got.last_lawful_day == D("2024-03-30")


def test_schengen_re_entry_exactly_when_a_day_leaves_the_window():
    crossings = cross(("2024-01-01", "FR", "entered"), ("2024-03-30", "DE", "left"))
    # Leaving from another member state is fine: presence in the area is what counts, and the
    # contradiction (left DE, never entered it) is shown, not refused.
    got = count(crossings, [], SCHENGEN, AREA, D("2024-04-01"))
    assert got.warnings
    crossings = cross(
        ("2024-01-01", "FR", "entered"), ("2024-02-10", "FR", "left"),
        ("2024-02-10", "DE", "entered"), ("2024-03-30", "DE", "left"),
    )  # fmt: skip
    got = count(crossings, [], SCHENGEN, AREA, D("2024-04-01"))
    assert got.days_used == 90 and not got.warnings
    # 1 January leaves the 180-day window ending on 29 June: that is the first lawful day back.
    assert got.earliest_entry == D("2024-06-29")
    answer = plan(crossings, [], SCHENGEN, AREA, D("2024-04-01"), None, D("2024-06-29"))
    assert answer["return_lawful"] is True
    # Each day back is matched by an old day leaving the window, until the old days run out.
    assert answer["may_stay_until"] == "2024-09-26"


def test_schengen_entries_and_exits_spread_over_two_windows():
    crossings = cross(
        ("2023-10-01", "FR", "entered"), ("2023-11-29", "FR", "left"),  # 60 days
        ("2024-02-01", "DE", "entered"), ("2024-02-20", "DE", "left"),  # 20 days
        ("2024-04-15", "FR", "entered"),
    )  # fmt: skip
    # On 15 April the window starts on 19 October: 42 + 20 + 1 days.
    got = count(crossings, [], SCHENGEN, AREA, D("2024-04-15"))
    assert got.days_used == 63
    assert got.last_lawful_day == oracle_last(crossings, D("2024-04-15"))


def oracle_last(crossings: list[Crossing], as_of: date) -> date | None:
    oracle = Oracle(crossings, [], SCHENGEN, AREA, as_of)
    return oracle.last_lawful(oracle.staying_on(), oracle.entered)


def test_two_entries_in_a_row_are_accepted_with_a_warning():
    crossings = cross(("2023-02-01", "KZ", "entered"), ("2023-02-10", "KZ", "entered"))
    got = count(crossings, [], EAEU_KZ, KZ, D("2023-02-20"))
    assert got.entered_on == D("2023-02-01") and got.days_used == 20
    assert got.warnings == ("entered KZ on 2023-02-10 with no exit recorded since entering on 2023-02-01",)


def test_the_planner_names_the_bad_field():
    crossings = cross(("2023-02-01", "KZ", "entered"))
    with pytest.raises(PlanError, match="leave_on: must not be before 2023-03-01"):
        plan(crossings, [], EAEU_KZ, KZ, D("2023-03-01"), D("2023-02-01"), None)
    with pytest.raises(PlanError, match="return_on: must be 2023-03-06 or later"):
        plan(crossings, [], EAEU_KZ, KZ, D("2023-03-01"), D("2023-03-05"), D("2023-03-05"))


def test_a_permit_ending_beyond_a_century_counts_as_no_limit():
    crossings = cross(("2023-02-01", "KZ", "entered"))
    got = count(crossings, [(D("2023-03-01"), D("2998-12-31"))], EAEU_KZ, KZ, D("2023-06-01"))
    assert got.paused and got.last_lawful_day is None
    # Within a century the date is given.
    got = count(crossings, [(D("2023-03-01"), D("2100-01-01"))], EAEU_KZ, KZ, D("2023-06-01"))
    assert got.last_lawful_day == D("2100-04-01")  # resumes on 2 January
