"""Which alerts a deadline owes on a day: thresholds, catch-up, overdue escalation (pure rules)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tracker.alerts.planning import ESCALATION, OVERDUE, Watched, lead_threshold, owed

STAY_LEADS = (30, 14, 7, 3, 1, 0)
DUE = date(2025, 3, 14)


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [
        (31, None),
        (30, 30),
        (29, 30),
        (15, 30),
        (14, 14),
        (8, 14),
        (7, 7),
        (4, 7),
        (3, 3),
        (2, 3),
        (1, 1),
        (0, 0),
    ],
)
def test_the_most_urgent_threshold_crossed_counts(days_left: int, expected: int | None) -> None:
    assert lead_threshold(STAY_LEADS, days_left) == expected


def test_no_threshold_when_a_kind_has_none_or_only_large_ones() -> None:
    assert lead_threshold((), 0) is None
    assert lead_threshold((90, 30, 7), 0) == 7
    assert lead_threshold((7,), 8) is None


def _stay(due: date = DUE) -> Watched:
    return Watched("stay_expires:e1:" + due.isoformat(), "case-1", "stay_expires", due)


def _stages(alerts: list) -> list[tuple[str, str, int | None]]:
    return [(a.stage, a.username, a.threshold_days) for a in alerts]


def test_before_the_due_date_the_caseworkers_get_one_alert_per_threshold() -> None:
    on = DUE - timedelta(days=2)
    assert _stages(owed(_stay(), on, STAY_LEADS, ["anna", "boris"], ["sam"])) == [
        ("lead:3", "anna", 3),
        ("lead:3", "boris", 3),
    ]


def test_a_scheduler_back_from_downtime_owes_only_the_most_urgent_threshold() -> None:
    # Down from 40 days before the date until 1 day before it: 30, 14, 7 and 3 were missed.
    alerts = owed(_stay(), DUE - timedelta(days=1), STAY_LEADS, ["anna"], [])
    assert _stages(alerts) == [("lead:1", "anna", 1)]


def test_outside_every_lead_window_nothing_is_owed() -> None:
    assert owed(_stay(), DUE - timedelta(days=31), STAY_LEADS, ["anna"], ["sam"]) == []


def test_on_the_due_date_the_zero_threshold_counts() -> None:
    assert _stages(owed(_stay(), DUE, STAY_LEADS, ["anna"], ["sam"])) == [("lead:0", "anna", 0)]


def test_supervisors_get_the_alerts_of_a_case_nobody_follows() -> None:
    alerts = owed(_stay(), DUE - timedelta(days=7), STAY_LEADS, [], ["sam", "sue"])
    assert _stages(alerts) == [("lead:7", "sam", 7), ("lead:7", "sue", 7)]


def test_overdue_alerts_caseworkers_once_and_escalates_to_supervisors_each_day() -> None:
    first = DUE + timedelta(days=1)
    alerts = owed(_stay(), first, STAY_LEADS, ["anna"], ["sam"])
    assert _stages(alerts) == [(OVERDUE, "anna", None), (f"{ESCALATION}{first.isoformat()}", "sam", None)]
    later = DUE + timedelta(days=5)
    again = owed(_stay(), later, STAY_LEADS, ["anna"], ["sam"])
    # The caseworkers' stage is the same every day (so it exists once); the escalation is dated.
    assert _stages(again) == [(OVERDUE, "anna", None), (f"{ESCALATION}{later.isoformat()}", "sam", None)]


def test_a_supervisor_following_the_case_gets_the_escalations_only() -> None:
    alerts = owed(_stay(), DUE + timedelta(days=1), STAY_LEADS, ["sam", "anna"], ["sam"])
    assert sorted(_stages(alerts)) == [(OVERDUE, "anna", None), ("overdue:2025-03-15", "sam", None)]


def test_a_kind_without_lead_days_still_alerts_when_overdue() -> None:
    check_in = Watched("check_in:e2:2025-03-14", "case-1", "check_in", DUE)
    assert owed(check_in, DUE, (), ["anna"], ["sam"]) == []
    assert _stages(owed(check_in, DUE + timedelta(days=1), (), ["anna"], [])) == [(OVERDUE, "anna", None)]


def test_an_alert_carries_what_the_inbox_shows() -> None:
    (alert,) = owed(_stay(), DUE - timedelta(days=3), STAY_LEADS, ["anna"], [])
    assert (alert.deadline_key, alert.case_id, alert.kind, alert.due_on) == (
        "stay_expires:e1:2025-03-14",
        "case-1",
        "stay_expires",
        DUE,
    )
