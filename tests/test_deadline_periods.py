"""Computed due dates: appeal periods by country and procedure, filing windows, holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tracker.deadlines.derive import Deadline, derive
from tracker.deadlines.rules import DEFAULT_RULES_PATH, Rules, load_rules
from tracker.events.record import Recorded


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(DEFAULT_RULES_PATH)


@pytest.fixture
def events() -> list[Recorded]:
    return []


def add(events: list[Recorded], type_: str, on: str, **data: Any) -> Recorded:
    """Append one event of a single case to `events` and return it."""
    event = Recorded(
        id=f"e{len(events) + 1}",
        case_id="case-1",
        version=len(events) + 1,
        type=type_,
        occurred_on=date.fromisoformat(on),
        date_precision="day",
        recorded_at=datetime(2024, 1, 1, tzinfo=UTC),
        recorded_by="anna",
        data=data,
    )
    events.append(event)
    return event


def of(kind: str, events: list[Recorded], rules: Rules) -> list[Deadline]:
    return [d for d in derive(events, rules) if d.kind == kind]


def appeal_due(rules: Rules, country: str, notified_on: str, **decision: Any) -> date:
    events: list[Recorded] = []
    add(events, "asylum_decided", notified_on, country=country, notified_on=notified_on, **decision)
    [deadline] = of("asylum_appeal", events, rules)
    return deadline.due_on


# --------------------------------------------------------------------------- appeal periods


@pytest.mark.parametrize(
    ("notified", "due"),
    [
        ("2023-01-31", "2023-02-28"),
        ("2024-01-31", "2024-02-29"),
        ("2023-04-30", "2023-05-30"),
        ("2023-04-06", "2023-05-06"),  # a Saturday: the FR rule does not roll weekends
    ],
)
def test_fr_one_calendar_month(rules: Rules, notified: str, due: str) -> None:
    assert appeal_due(rules, "FR", notified, outcome="rejected") == date.fromisoformat(due)


@pytest.mark.parametrize(
    ("decision", "due"),
    [
        ({"outcome": "rejected", "procedure": "normal"}, "2023-06-21"),
        ({"outcome": "rejected"}, "2023-06-21"),
        ({"outcome": "rejected", "procedure": "manifestly_unfounded"}, "2023-06-14"),
        ({"outcome": "inadmissible", "procedure": "normal"}, "2023-06-14"),
        ({"outcome": "inadmissible", "procedure": "manifestly_unfounded"}, "2023-06-14"),
    ],
)
def test_de_two_weeks_or_one(rules: Rules, decision: dict[str, str], due: str) -> None:
    assert appeal_due(rules, "DE", "2023-06-07", **decision) == date.fromisoformat(due)


def test_de_period_ending_on_a_saturday_ends_on_monday(rules: Rules) -> None:
    assert date(2023, 6, 17).weekday() == 5
    assert appeal_due(rules, "DE", "2023-06-03", outcome="rejected") == date(2023, 6, 19)


def test_us_thirty_days_ending_on_a_saturday_end_on_monday(rules: Rules) -> None:
    assert appeal_due(rules, "US", "2023-06-01", outcome="rejected") == date(2023, 7, 3)
    assert appeal_due(rules, "US", "2023-06-05", outcome="rejected") == date(2023, 7, 5)


def test_any_other_country_has_thirty_plain_days(rules: Rules) -> None:
    assert appeal_due(rules, "CA", "2023-06-01", outcome="rejected") == date(2023, 7, 1)


def test_counted_from_the_decision_when_notification_is_unknown(rules: Rules, events: list[Recorded]) -> None:
    add(events, "asylum_decided", "2023-01-31", country="FR", outcome="rejected")
    assert [d.due_on for d in of("asylum_appeal", events, rules)] == [date(2023, 2, 28)]


def test_grants_open_no_appeal(rules: Rules, events: list[Recorded]) -> None:
    add(events, "asylum_decided", "2023-01-31", country="FR", outcome="granted")
    add(events, "asylum_decided", "2023-01-31", country="DE", outcome="subsidiary_protection")
    assert of("asylum_appeal", events, rules) == []


def test_appeal_filed_meets_the_deadline_of_its_country(rules: Rules, events: list[Recorded]) -> None:
    add(events, "appeal_filed", "2023-05-01", country="FR", body="CNDA")  # before the decision: no effect
    fr = add(
        events, "asylum_decided", "2023-06-01", country="FR", outcome="rejected", notified_on="2023-06-05"
    )
    add(events, "asylum_decided", "2023-06-01", country="DE", outcome="rejected", notified_on="2023-06-07")
    filed = add(events, "appeal_filed", "2023-06-20", country="FR", body="CNDA")
    found = {d.source_event_id: d for d in of("asylum_appeal", events, rules)}
    assert (found[fr.id].state, found[fr.id].resolved_by) == ("met", filed.id)
    assert [d.state for d in found.values() if d.source_event_id != fr.id] == ["open"]
    assert found[fr.id].lead_days == (14, 7, 3, 1, 0)


def test_a_new_decision_supersedes_the_appeal_deadline(rules: Rules, events: list[Recorded]) -> None:
    add(events, "asylum_decided", "2023-06-01", country="DE", outcome="rejected", notified_on="2023-06-07")
    again = add(events, "asylum_decided", "2023-08-01", country="DE", outcome="granted")
    assert [(d.state, d.resolved_by) for d in of("asylum_appeal", events, rules)] == [
        ("superseded", again.id)
    ]


# --------------------------------------------------------------------------- holidays


def rules_with(tmp_path: Path, text: str) -> Rules:
    org = tmp_path / "org.toml"
    org.write_text(text, encoding="utf-8")
    return load_rules([DEFAULT_RULES_PATH, org])


def test_an_organization_holiday_moves_a_period_to_the_next_working_day(tmp_path: Path) -> None:
    rules = rules_with(tmp_path, "[holidays]\ndates = [2023-06-21, 2023-06-23]\n")
    assert appeal_due(rules, "DE", "2023-06-07", outcome="rejected") == date(2023, 6, 22)
    # A Friday holiday under a rule that rolls weekends ends on Monday.
    assert appeal_due(rules, "DE", "2023-06-09", outcome="rejected") == date(2023, 6, 26)
    # Plain days leave a weekend end alone, but a holiday ends on the next working day: a Friday
    # holiday moves past the weekend to Monday.
    assert appeal_due(rules, "CA", "2023-05-24", outcome="rejected") == date(2023, 6, 26)
    assert appeal_due(rules, "CA", "2023-05-25", outcome="rejected") == date(2023, 6, 24)  # a Saturday


def test_a_country_holiday_moves_only_that_countrys_periods(tmp_path: Path) -> None:
    rules = rules_with(tmp_path, '[holidays]\nDE = ["2023-06-21"]\n')
    assert appeal_due(rules, "DE", "2023-06-07", outcome="rejected") == date(2023, 6, 22)
    assert appeal_due(rules, "CA", "2023-05-22", outcome="rejected") == date(2023, 6, 21)


def test_holidays_never_move_dates_given_by_an_event(tmp_path: Path) -> None:
    rules = rules_with(tmp_path, "[holidays]\ndates = [2023-06-21]\n")
    events: list[Recorded] = []
    add(events, "reminder_set", "2023-06-01", title="Call", due_on="2023-06-21")
    assert [d.due_on for d in derive(events, rules)] == [date(2023, 6, 21)]


# --------------------------------------------------------------------------- filing window


def test_us_filing_window_one_year_after_arrival_closed_by_applying(
    rules: Rules, events: list[Recorded]
) -> None:
    add(events, "asylum_applied", "2023-01-01", country="US")  # before the arrival: does not count
    arrival = add(events, "fled_country", "2023-03-10", from_country="RU", to_country="US")
    [open_] = of("asylum_filing_window", events, rules)
    assert (open_.key, open_.state, open_.lead_days) == (
        f"asylum_filing_window:{arrival.id}:2024-03-10",
        "open",
        (90, 30, 14, 7, 1, 0),
    )
    applied = add(events, "asylum_applied", "2023-09-01", country="US", route="in_country")
    assert [(d.state, d.resolved_by) for d in of("asylum_filing_window", events, rules)] == [
        ("met", applied.id)
    ]


def test_filing_window_from_29_february(rules: Rules, events: list[Recorded]) -> None:
    add(events, "fled_country", "2024-02-29", from_country="KZ", to_country="US")
    assert [d.due_on for d in of("asylum_filing_window", events, rules)] == [date(2025, 2, 28)]


def test_only_arrivals_in_a_window_country_count(rules: Rules, events: list[Recorded]) -> None:
    add(events, "fled_country", "2023-01-10", from_country="RU", to_country="KZ")
    add(events, "relocated", "2023-02-01", country="KZ", city="Astana")
    assert of("asylum_filing_window", events, rules) == []
    first = add(events, "relocated", "2023-05-01", country="US", city="New York")
    add(events, "relocated", "2023-06-01", country="US", city="Chicago")  # a move within the country
    assert [(d.source_event_id, d.state) for d in of("asylum_filing_window", events, rules)] == [
        (first.id, "open")
    ]
    add(events, "relocated", "2023-07-01", country="MX", city="Tijuana")
    back = add(events, "fled_country", "2023-08-01", from_country="MX", to_country="US")
    found = of("asylum_filing_window", events, rules)
    assert [(d.source_event_id, d.due_on.isoformat(), d.state, d.resolved_by) for d in found] == [
        (first.id, "2024-05-01", "superseded", back.id),
        (back.id, "2024-08-01", "open", None),
    ]
