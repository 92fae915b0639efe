"""The scheduler pass on both engines: each alert once, catch-up, escalation, closing; the inbox API."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from alertkit import at, stay_case, user
from alertkit import stored_alerts as alerts
from conftest import Json, add_event

from tracker.alerts import scan
from tracker.alerts.tables import AlertRow, SchedulerStateRow
from tracker.services.alerts import create_alerts, run_pass


def test_each_threshold_alerts_once_and_downtime_sends_only_the_most_urgent(rt, staff, today) -> None:
    case = stay_case(staff["admin"], today, today + timedelta(days=30))
    first = run_pass(rt, at(today))
    assert (first.created, first.deadlines) == (1, 1)
    assert run_pass(rt, at(today, 18)).created == 0
    assert alerts(rt, case) == [("anna", "lead:30", 30)]
    run_pass(rt, at(today + timedelta(days=16)))  # 14 days left
    # Down from here until 2 days before the date: 7 was missed, only 3 is sent.
    run_pass(rt, at(today + timedelta(days=28)))
    run_pass(rt, at(today + timedelta(days=28), 12))
    assert alerts(rt, case) == [("anna", "lead:14", 14), ("anna", "lead:3", 3), ("anna", "lead:30", 30)]


def test_the_unique_constraint_alone_keeps_each_alert_once(rt, staff, today, monkeypatch) -> None:
    case = stay_case(staff["admin"], today, today + timedelta(days=3))
    # Outside the pass lock, and blind to the alerts that exist (as two passes that read at the
    # same moment would be): the second pass still adds nothing.
    monkeypatch.setattr(scan, "existing", lambda *args: set())
    assert create_alerts(rt, at(today)) == (1, 1)
    assert create_alerts(rt, at(today, 18)) == (1, 0)
    assert alerts(rt, case) == [("anna", "lead:3", 3)]
    # A plain INSERT of the same (deadline_key, stage, username), without ON CONFLICT: refused.
    table = AlertRow.__table__
    with rt.db.read() as session:
        row = session.execute(sa.select(table).where(table.c.case_id == case)).mappings().one()
    copy = {name: value for name, value in row.items() if name != "id"}
    with pytest.raises(sa.exc.IntegrityError), rt.db.write() as session:
        session.execute(sa.insert(table).values(**{**copy, "threshold_days": 7}))
    assert alerts(rt, case) == [("anna", "lead:3", 3)]
    # Another user's alert for the same deadline and stage is a different alert.
    with rt.db.write() as session:
        session.execute(sa.insert(table).values(**{**copy, "username": "boris"}))
    assert alerts(rt, case) == [("anna", "lead:3", 3), ("boris", "lead:3", 3)]


def test_overdue_alerts_the_caseworker_once_and_escalates_daily(rt, staff, today) -> None:
    case = stay_case(staff["admin"], today, today + timedelta(days=1))
    run_pass(rt, at(today))
    run_pass(rt, at(today + timedelta(days=2)))
    run_pass(rt, at(today + timedelta(days=2), 20))
    run_pass(rt, at(today + timedelta(days=3)))
    day2, day3 = (today + timedelta(days=n) for n in (2, 3))
    assert alerts(rt, case) == [
        ("anna", "lead:1", 1),
        ("anna", "overdue", None),
        ("sam", f"overdue:{day2.isoformat()}", None),
        ("sam", f"overdue:{day3.isoformat()}", None),
    ]


def test_a_case_nobody_follows_alerts_its_supervisors(rt, staff, app, today) -> None:
    user(app, "sue", "supervisor")
    case = stay_case(staff["admin"], today, today + timedelta(days=7), worker=None)
    run_pass(rt, at(today))
    assert alerts(rt, case) == [("sam", "lead:7", 7), ("sue", "lead:7", 7)]


def test_a_closed_case_stops_alerting_and_a_reopened_one_resumes(rt, staff, today) -> None:
    admin = staff["admin"]
    case = stay_case(admin, today, today + timedelta(days=3))
    add_event(admin, case, "case_closed", today.isoformat(), {"outcome": "resettled"})
    assert run_pass(rt, at(today)).deadlines == 0
    assert run_pass(rt, at(today + timedelta(days=5))).created == 0
    assert alerts(rt, case) == []
    add_event(admin, case, "case_reopened", today.isoformat(), {"reason": "back in touch"})
    run_pass(rt, at(today))
    assert alerts(rt, case) == [("anna", "lead:3", 3)]


def test_a_resolved_deadline_stops_alerting(rt, staff, today) -> None:
    admin = staff["admin"]
    case = stay_case(admin, today, today + timedelta(days=3))
    run_pass(rt, at(today))
    key = admin.get(f"/cases/{case}/deadlines").get_json()["deadlines"][0]["key"]
    add_event(
        admin, case, "deadline_resolved", today.isoformat(), {"deadline_key": key, "resolution": "moot"}
    )
    run_pass(rt, at(today + timedelta(days=3)))
    run_pass(rt, at(today + timedelta(days=4)))
    assert alerts(rt, case) == [("anna", "lead:3", 3)]


def test_a_moved_date_is_a_new_deadline_with_its_own_alerts(rt, staff, today) -> None:
    admin = staff["admin"]
    case = stay_case(admin, today, today + timedelta(days=3))
    run_pass(rt, at(today))
    add_event(
        admin,
        case,
        "stay_extended",
        today.isoformat(),
        {"country": "KZ", "valid_until": (today + timedelta(days=10)).isoformat()},
    )
    run_pass(rt, at(today))
    with rt.db.read() as session:
        rows = session.execute(
            sa.select(AlertRow.deadline_key, AlertRow.stage).where(AlertRow.case_id == case)
        ).all()
    stages = {stage: key for key, stage in rows}
    assert set(stages) == {"lead:3", "lead:14"}
    assert stages["lead:3"] != stages["lead:14"]
    assert stages["lead:14"].endswith((today + timedelta(days=10)).isoformat())


def test_a_pass_reads_only_the_widest_lead_window(rt, staff, today) -> None:
    widest = rt.rules.max_lead_days
    assert widest == 90  # document_expires and the filing window alert 90 days ahead
    admin = staff["admin"]
    case = stay_case(admin, today, today + timedelta(days=200))
    for kind, days in (("international_passport", widest), ("residence_card", widest + 1)):
        until = (today + timedelta(days=days)).isoformat()
        data = {"kind": kind, "status": "held", "valid_until": until}
        add_event(admin, case, "document_recorded", today.isoformat(), data)
    result = run_pass(rt, at(today))
    # The stay (200 days) and the residence card (91 days) lie outside: only one deadline is read.
    assert (result.deadlines, result.created) == (1, 1)
    assert alerts(rt, case) == [("anna", "lead:90", 90)]


def test_the_window_is_read_through_the_active_due_on_index(sqlite_app) -> None:
    # SQLite only: PostgreSQL's plan for a tiny table is a sequential scan whatever the indexes.
    from tracker.alerts import scan

    rt = sqlite_app.extensions["tracker"]
    query = sa.select(scan.DeadlineRow.key).where(scan._in_window(rt.today()))
    with rt.db.engine.connect() as conn:
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    assert "ix_deadlines_active_due_on" in plan, plan


def test_a_pass_records_when_it_ran(rt, staff, today) -> None:
    stay_case(staff["admin"], today, today + timedelta(days=1))
    run_pass(rt, at(today))
    with rt.db.read() as session:
        state = session.get(SchedulerStateRow, "deadlines")
        assert state is not None and state.last_alerts == 1 and state.last_seconds is not None


def test_inactive_users_get_no_alerts(rt, staff, today) -> None:
    from tracker.auth.tables import UserRow

    case = stay_case(staff["admin"], today, today + timedelta(days=1))
    with rt.db.write() as session:
        session.execute(sa.update(UserRow).where(UserRow.username == "anna").values(active=False))
    run_pass(rt, at(today))
    assert alerts(rt, case) == [("sam", "lead:1", 1)]


# ----------------------------------------------------------------------------------- the inbox API


def test_the_inbox_lists_acknowledges_and_filters(rt, staff, today) -> None:
    anna = staff["anna"]
    case = stay_case(staff["admin"], today, today + timedelta(days=3))
    run_pass(rt, at(today))
    r = anna.get("/alerts")
    assert r.status_code == 200
    (alert,) = r.get_json()["alerts"]
    assert set(alert) == {
        "id", "deadline_key", "case_id", "pseudonym", "kind", "due_on", "threshold_days", "created_at",
        "acknowledged_at", "days_left", "closed",
    }  # fmt: skip
    assert (alert["days_left"], alert["closed"]) == (3, None)
    assert (alert["case_id"], alert["pseudonym"], alert["kind"]) == (case, "Sparrow", "stay_expires")
    assert (alert["due_on"], alert["threshold_days"], alert["acknowledged_at"]) == (
        (today + timedelta(days=3)).isoformat(),
        3,
        None,
    )
    assert alert["created_at"].endswith("Z")
    acked = anna.post(f"/alerts/{alert['id']}/ack")
    assert acked.status_code == 200
    assert acked.get_json()["id"] == alert["id"] and acked.get_json()["acknowledged_at"]
    again = anna.post(f"/alerts/{alert['id']}/ack")
    assert again.status_code == 200
    assert again.get_json()["acknowledged_at"] == acked.get_json()["acknowledged_at"]
    assert anna.get("/alerts", unacknowledged="true").get_json()["alerts"] == []
    assert [a["id"] for a in anna.get("/alerts", unacknowledged="false").get_json()["alerts"]] == [
        alert["id"]
    ]


def test_another_users_alert_is_not_found(rt, staff, today) -> None:
    stay_case(staff["admin"], today, today + timedelta(days=3))
    run_pass(rt, at(today))
    (alert,) = staff["anna"].get("/alerts").get_json()["alerts"]
    for other in ("boris", "sam", "admin"):
        assert staff[other].post(f"/alerts/{alert['id']}/ack").status_code == 404
        assert staff[other].get("/alerts").get_json()["alerts"] == []
    assert staff["anna"].get("/alerts").get_json()["alerts"][0]["acknowledged_at"] is None
    for bad in ("999999", "abc", "-1", "1.5"):
        r = staff["anna"].post(f"/alerts/{bad}/ack")
        assert r.status_code == 404 and "error" in r.get_json()


def test_a_caseworker_taken_off_a_case_no_longer_sees_its_alerts(rt, staff, today) -> None:
    admin = staff["admin"]
    case = stay_case(admin, today, today + timedelta(days=3))
    run_pass(rt, at(today))
    (alert,) = staff["anna"].get("/alerts").get_json()["alerts"]
    add_event(admin, case, "caseworker_unassigned", today.isoformat(), {"username": "anna"})
    assert staff["anna"].get("/alerts").get_json()["alerts"] == []
    assert staff["anna"].post(f"/alerts/{alert['id']}/ack").status_code == 404


def test_the_inbox_needs_a_token_and_valid_parameters(app, staff) -> None:
    anon = Json(app.test_client(), None)
    assert anon.get("/alerts").status_code == 401
    assert anon.post("/alerts/1/ack").status_code == 401
    assert Json(app.test_client(), "trk_wrong").get("/alerts").status_code == 401
    r = staff["anna"].get("/alerts", unacknowledged="yes")
    assert r.status_code == 400 and "unacknowledged" in r.get_json()["fields"]
