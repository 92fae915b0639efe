"""The organization's clock: "today", overdue, the scheduler's day and shown times in its time zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser.webkit import post_form, sign_in
from conftest import PASSWORD, Json, _make_app, add_event, open_case

from tracker.auth.users import create_user, issue_token
from tracker.config import ConfigError, load_settings
from tracker.services import account, alerts

ALMATY = ZoneInfo("Asia/Almaty")
DAY = date(2026, 12, 8)


def local(day: date, hour: int, minute: int = 0, tz: ZoneInfo = ALMATY) -> datetime:
    """A moment given on the wall clock of `tz`, as the UTC moment the runtime's clock returns."""
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


@pytest.fixture
def app_in(sqlite_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A factory: app_in(zone) -> the application with TIME_ZONE set to `zone`."""
    made: list[Any] = []

    def make(zone: str) -> Any:
        application = _make_app(sqlite_url, tmp_path, monkeypatch, TIME_ZONE=zone)
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["tracker"].db.dispose()


def admin_of(application: Any, name: str = "ada", role: str = "admin") -> Json:
    rt = application.extensions["tracker"]
    with rt.db.write() as session:
        create_user(session, name, role, PASSWORD)
        token = issue_token(session, name)
    return Json(application.test_client(), token)


def record_on(api: Json, case_id: str, day: date) -> Any:
    body = {"type": "contact_made", "occurred_on": day.isoformat(), "data": {}}
    return api.post(f"/cases/{case_id}/events", body)


def test_half_past_midnight_in_almaty_is_today_there_and_tomorrow_in_utc(app_in: Any) -> None:
    moment = local(DAY, 0, 30)
    assert moment.date() == DAY.replace(day=7)  # UTC is still on the day before

    almaty = app_in("Asia/Almaty")
    almaty.extensions["tracker"].clock = lambda: moment
    ada = admin_of(almaty)
    case_id = open_case(ada, "Sparrow", "2026-12-01")
    assert record_on(ada, case_id, DAY).status_code == 201

    utc = app_in("UTC")
    utc.extensions["tracker"].clock = lambda: moment
    r = record_on(Json(utc.test_client(), ada.token), case_id, DAY)
    assert r.status_code == 422
    assert r.get_json()["fields"] == {"occurred_on": "must not be in the future (after 2026-12-07)"}


def test_a_users_own_zone_overrides_the_organizations(app_in: Any) -> None:
    app = app_in("UTC")
    rt = app.extensions["tracker"]
    rt.clock = lambda: local(DAY, 0, 30)
    ada = admin_of(app)
    anna = admin_of(app, "anna", "caseworker")
    case_id = open_case(anna, "Sparrow", "2026-12-01")
    assert record_on(anna, case_id, DAY).status_code == 422
    with rt.db.read() as session:
        from tracker.auth.users import find_user

        anna_id = find_user(session, "anna").id  # type: ignore[union-attr]
    account.set_time_zone(rt, anna_id, "Asia/Almaty")
    assert record_on(anna, case_id, DAY).status_code == 201
    # Nobody else's day moved, and the services outside a request keep the organization's.
    assert record_on(ada, case_id, DAY).status_code == 422
    assert rt.today() == date(2026, 12, 7)


def test_overdue_flips_at_local_midnight(app_in: Any) -> None:
    app = app_in("Asia/Almaty")
    rt = app.extensions["tracker"]
    rt.clock = lambda: local(DAY, 12)
    ada = admin_of(app)
    case_id = open_case(ada, "Sparrow", "2026-12-01")
    add_event(ada, case_id, "reminder_set", "2026-12-08", {"title": "call back", "due_on": "2026-12-08"})

    def states(at: datetime) -> tuple[str, bool]:
        rt.clock = lambda: at
        (deadline,) = ada.get(f"/cases/{case_id}/deadlines").get_json()["deadlines"]
        (summary,) = ada.get("/cases").get_json()["cases"]
        return deadline["state"], summary["overdue"]

    assert states(local(DAY, 23, 59)) == ("open", False)
    midnight = local(date(2026, 12, 9), 0, 0)
    assert midnight.date() == DAY  # still 8 December in UTC
    assert states(midnight) == ("overdue", True)


def test_the_scheduler_counts_days_in_the_organizations_zone(app_in: Any) -> None:
    app = app_in("Asia/Almaty")
    rt = app.extensions["tracker"]
    rt.clock = lambda: local(DAY, 12)
    ada = admin_of(app)
    admin_of(app, "sam", "supervisor")
    case_id = open_case(ada, "Sparrow", "2026-12-01")
    add_event(ada, case_id, "reminder_set", "2026-12-08", {"title": "call back", "due_on": "2026-12-08"})
    alerts.run_pass(rt, local(date(2026, 12, 9), 0, 30))
    with rt.db.engine.connect() as conn:
        stages = {row[0] for row in conn.exec_driver_sql("SELECT stage FROM alerts")}
    assert "overdue:2026-12-09" in stages


def test_times_are_shown_in_the_users_zone(app_in: Any) -> None:
    app = app_in("Europe/Berlin")
    rt = app.extensions["tracker"]
    rt.clock = lambda: datetime(2026, 12, 7, 19, 30, tzinfo=UTC)
    ada = admin_of(app)
    case_id = open_case(ada, "Sparrow", "2026-12-01")
    web = app.test_client()
    assert sign_in(web, "ada").status_code == 302
    page = web.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "2026-12-07 20:30 Europe/Berlin" in page

    saved = post_form(web, "/account/time-zone", {"time_zone": "Asia/Almaty"}, "/account")
    assert saved.status_code == 302
    page = web.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "2026-12-08 00:30 Asia/Almaty" in page

    bad = post_form(web, "/account/time-zone", {"time_zone": "Mars/Olympus"}, "/account")
    assert bad.status_code == 422
    assert "The time zone must be one of the list." in bad.get_data(as_text=True)
    page = web.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "2026-12-08 00:30 Asia/Almaty" in page


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "asia almaty", "../etc/passwd"])
def test_an_unknown_time_zone_stops_start_up(zone: str) -> None:
    with pytest.raises(ConfigError, match="TIME_ZONE"):
        load_settings({"TIME_ZONE": zone})


def test_the_default_zone_is_utc() -> None:
    assert load_settings()["TIME_ZONE"] == "UTC"
