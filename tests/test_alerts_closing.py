"""Alerts of a deadline that is met, resolved, superseded or gone close on their own and say why."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from alertkit import at, stay_case
from conftest import Json, add_event, open_case

from tracker.services import integrity
from tracker.services.alerts import run_pass


def _alerts(api: Json, **params: Any) -> list[dict[str, Any]]:
    r = api.get("/alerts", **params)
    assert r.status_code == 200
    return list(r.get_json()["alerts"])


def _check_in_case(admin: Json, today: date) -> str:
    """A case followed by anna whose weekly check-in is two days overdue."""
    opened = (today - timedelta(days=9)).isoformat()
    case = open_case(admin, "Farhad", occurred_on=opened)
    add_event(admin, case, "caseworker_assigned", opened, {"username": "anna"})
    add_event(admin, case, "check_in_plan_set", opened, {"every_days": 7})
    return case


def test_a_contact_closes_the_overdue_check_in_alert_as_made(rt, staff, today) -> None:
    admin, anna = staff["admin"], staff["anna"]
    case = _check_in_case(admin, today)
    run_pass(rt, at(today))
    (alert,) = _alerts(anna, unacknowledged="true")
    assert (alert["kind"], alert["days_left"], alert["closed"]) == ("check_in", -2, None)
    add_event(admin, case, "contact_made", today.isoformat(), {"channel": "Signal"})
    # Closed in the same transaction as the contact, before any scheduler pass.
    assert _alerts(anna, unacknowledged="true") == []
    (closed,) = _alerts(anna)
    assert closed["id"] == alert["id"] and closed["acknowledged_at"]
    assert closed["closed"] == {"reason": "met", "by": "contact_made", "on": today.isoformat()}
    # The next check-in is a new deadline, a week away: nothing to alert today.
    run_pass(rt, at(today))
    assert _alerts(anna, unacknowledged="true") == []


def test_resolving_and_moving_a_deadline_close_its_alerts_naming_the_event(rt, staff, today) -> None:
    admin, anna = staff["admin"], staff["anna"]
    resolved = stay_case(admin, today, today + timedelta(days=3), name="Resolved")
    moved = stay_case(admin, today, today + timedelta(days=3), name="Moved")
    run_pass(rt, at(today))
    key = admin.get(f"/cases/{resolved}/deadlines").get_json()["deadlines"][0]["key"]
    yesterday = (today - timedelta(days=1)).isoformat()
    add_event(admin, resolved, "deadline_resolved", yesterday, {"deadline_key": key, "resolution": "moot"})
    later = (today + timedelta(days=60)).isoformat()
    add_event(admin, moved, "stay_extended", today.isoformat(), {"country": "KZ", "valid_until": later})
    reasons = {a["pseudonym"]: a["closed"] for a in _alerts(anna)}
    assert reasons == {
        "Resolved": {"reason": "resolved", "by": "deadline_resolved", "on": yesterday},
        "Moved": {"reason": "superseded", "by": "stay_extended", "on": today.isoformat()},
    }


def test_an_alert_acknowledged_by_hand_keeps_no_reason(rt, staff, today) -> None:
    admin, anna = staff["admin"], staff["anna"]
    case = _check_in_case(admin, today)
    run_pass(rt, at(today))
    (alert,) = _alerts(anna)
    acked = anna.post(f"/alerts/{alert['id']}/ack").get_json()["acknowledged_at"]
    add_event(admin, case, "contact_made", today.isoformat(), {})
    (after,) = _alerts(anna)
    assert (after["acknowledged_at"], after["closed"]) == (acked, None)


def test_a_rebuild_under_rules_that_no_longer_make_a_deadline_closes_its_alerts(
    rt, staff, today, monkeypatch
) -> None:
    admin, anna = staff["admin"], staff["anna"]
    stay_case(admin, today, today + timedelta(days=3))
    run_pass(rt, at(today))
    assert len(_alerts(anna, unacknowledged="true")) == 1
    monkeypatch.delitem(rt.rules.kind_rules, "stay_expires")
    integrity.rebuild(rt)
    (alert,) = _alerts(anna)
    assert alert["closed"] == {"reason": "gone", "by": None, "on": None}
