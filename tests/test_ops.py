"""Operations: /healthz, /metrics, JSON request logs whose request id is the one in the event's metadata."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from alertkit import staff, stay_case, user
from browser.webkit import post_form, signed_in
from conftest import _make_app, add_event, open_case
from corekit import cheap_password_hashing
from prometheus_client.parser import text_string_to_metric_families

from tracker.config import ConfigError
from tracker.migrate import downgrade, head_revision
from tracker.services import alerts


@pytest.fixture
def restore_logging() -> Any:
    """Take away the root handler a test's application installs (LOG_FORMAT), and the root level."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if getattr(h, "tracker_ops", False)]:
        root.removeHandler(handler)
    root.setLevel(level)


def samples(app: Any) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics as {(name, labels): value}."""
    response = app.test_client().get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    found: dict[tuple[str, frozenset], float] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return float(found.get((name, frozenset(labels.items())), 0.0))


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is one JSON object, or this fails


# /healthz


def test_healthz_is_ok_on_a_migrated_database_once_the_scheduler_has_passed(app, rt) -> None:
    client = app.test_client()
    before = client.get("/healthz")
    assert before.status_code == 200
    doc = before.get_json()
    head = head_revision(rt.db.url)
    assert doc["database"] == "ok" and doc["migrations"] == {"current": head, "head": head}
    assert doc["status"] == "degraded"  # no scheduler pass yet
    assert doc["scheduler"] == {"last_pass_finished_at": None, "age_seconds": None}

    alerts.run_pass(rt)
    after = client.get("/healthz").get_json()
    assert after["status"] == "ok"
    assert after["scheduler"]["last_pass_finished_at"].endswith("Z")
    assert 0 <= after["scheduler"]["age_seconds"] < 60

    # A scheduler that stopped passing is reported, but the server still takes traffic.
    later = rt.now() + timedelta(seconds=4 * int(rt.settings["SCHEDULER_INTERVAL_SECONDS"]))
    rt.clock = lambda: later
    stale = client.get("/healthz")
    assert stale.status_code == 200 and stale.get_json()["status"] == "degraded"


def test_healthz_is_503_when_the_database_is_behind_head(app, rt, db_url) -> None:
    downgrade(db_url, "0001")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    doc = response.get_json()
    assert doc["status"] == "error" and doc["database"] == "ok"
    assert doc["migrations"] == {"current": "0001", "head": head_revision(db_url)}


def test_healthz_is_503_when_the_database_cannot_be_reached(tmp_path, monkeypatch) -> None:
    app = _make_app(f"sqlite:///{tmp_path / 'missing' / 'folder' / 'tracker.db'}", tmp_path, monkeypatch)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    doc = response.get_json()
    assert doc["status"] == "error" and doc["database"] == "unreachable"
    assert doc["migrations"]["current"] is None and doc["migrations"]["head"]
    # Nothing about the error itself (paths, hosts, users) is given away.
    assert "missing" not in response.get_data(as_text=True)


# /metrics


def test_metrics_count_requests_and_appends_but_not_refused_appends(sqlite_app, api_for) -> None:
    api = api_for(sqlite_app, "supervisor")
    before = samples(sqlite_app)
    case = open_case(api)
    for n in range(3):
        add_event(api, case, "note_added", "2023-01-01", {"text": f"note {n}"})
    stale = api.post(
        f"/cases/{case}/events",
        {"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "late"}, "expected_version": 1},
    )
    assert stale.status_code == 409
    after = samples(sqlite_app)

    appended = "tracker_events_appended_total"
    assert value(after, appended, source="api") - value(before, appended, source="api") == 4
    hist = "tracker_http_request_duration_seconds_count"
    labels = {"endpoint": "api.post_event", "method": "POST"}
    assert value(after, hist, status="201", **labels) - value(before, hist, status="201", **labels) == 3
    assert value(after, hist, status="409", **labels) - value(before, hist, status="409", **labels) == 1
    assert value(after, "tracker_database_up") == 1


def test_metrics_count_alerts_e_mail_and_scheduler_passes(app, rt) -> None:
    today = rt.today()
    stay_case(staff(app)["admin"], today, today + timedelta(days=3))
    before = samples(app)
    result = alerts.run_pass(rt)
    assert result.created == 1 and result.mail.logged == 1
    after = samples(app)
    assert value(after, "tracker_alerts_created_total") - value(before, "tracker_alerts_created_total") == 1
    emails = "tracker_alert_emails_total"
    assert value(after, emails, outcome="logged") - value(before, emails, outcome="logged") == 1
    passes = "tracker_scheduler_pass_duration_seconds_count"
    assert value(after, passes) - value(before, passes) == 1
    assert value(after, "tracker_scheduler_last_pass_seconds") == pytest.approx(result.seconds)
    assert value(after, "tracker_alert_emails_waiting", state="pending") == 0


def test_metrics_are_for_loopback_or_the_metrics_token(tmp_path, monkeypatch, sqlite_url) -> None:
    closed = _make_app(sqlite_url, tmp_path, monkeypatch)
    client = closed.test_client()
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 403
    # Through a proxy on the same host every client looks local: forwarded requests are refused.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403

    tokened = _make_app(sqlite_url, tmp_path, monkeypatch, METRICS_TOKEN="scrape-secret")
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    client = tokened.test_client()
    good = client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer scrape-secret"})
    assert good.status_code == 200 and b"tracker_database_up" in good.data
    bad = client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer guess"})
    assert bad.status_code == 403


# Logs and request ids


def test_a_json_log_line_names_the_request_id_stored_in_the_events_metadata(
    tmp_path, monkeypatch, sqlite_url, capsys, restore_logging
) -> None:
    app = _make_app(sqlite_url, tmp_path, monkeypatch, LOG_FORMAT="json")
    admin = staff(app)["admin"]
    case = open_case(admin)
    capsys.readouterr()
    secret_text = "met at the border crossing"
    sent = admin.client.post(
        f"/api/v1/cases/{case}/events",
        json={"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": secret_text}},
        headers={"Authorization": f"Bearer {admin.token}", "X-Request-Id": "req-ops-7"},
    )
    assert sent.status_code == 201 and sent.headers["X-Request-Id"] == "req-ops-7"
    err = capsys.readouterr().err
    lines = json_lines(err)
    (line,) = [x for x in lines if x["logger"] == "tracker.request" and x.get("request_id") == "req-ops-7"]
    assert line["method"] == "POST" and line["path"] == f"/api/v1/cases/{case}/events"
    assert line["status"] == 201 and line["user"] == "ada" and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["time"].endswith("Z")
    assert secret_text not in err  # never the request body

    events = admin.get(f"/cases/{case}/events").get_json()["events"]
    assert events[-1]["metadata"]["request_id"] == "req-ops-7"

    # Without the header the server makes one: the answer, the log line and the event agree.
    made = admin.post(
        f"/cases/{case}/events", {"type": "note_added", "occurred_on": "2023-01-02", "data": {"text": "x"}}
    )
    rid = made.headers["X-Request-Id"]
    assert any(x.get("request_id") == rid for x in json_lines(capsys.readouterr().err))
    assert admin.get(f"/cases/{case}/events").get_json()["events"][-1]["metadata"]["request_id"] == rid


def test_the_calendar_token_is_not_written_to_the_log(
    tmp_path, monkeypatch, sqlite_url, capsys, restore_logging
) -> None:
    app = _make_app(sqlite_url, tmp_path, monkeypatch, LOG_FORMAT="json")
    capsys.readouterr()
    assert app.test_client().get("/calendar/s3cr3t-feed-token.ics").status_code == 404
    err = capsys.readouterr().err
    assert "s3cr3t-feed-token" not in err
    assert any(x.get("path") == "/calendar/<token>.ics" for x in json_lines(err))


def test_events_recorded_from_a_web_form_carry_the_request_id(sqlite_app, monkeypatch) -> None:
    cheap_password_hashing(monkeypatch)
    client = signed_in(sqlite_app, "sam", "supervisor")
    form = {
        "occurred_on": "2024-02-01",
        "f-pseudonym": "Heron",
        "f-citizenship": "RU",
        "f-category": "conscript",
    }
    done = post_form(client, "/cases/new", form)
    assert done.status_code == 302
    rid = done.headers["X-Request-Id"]
    case = done.headers["Location"].rsplit("/", 1)[-1]
    api = user(sqlite_app, "ada", "admin")
    (opened,) = api.get(f"/cases/{case}/events").get_json()["events"]
    assert opened["metadata"] == {"source": "web", "request_id": rid}


# Settings


def test_trusted_proxies_make_forwarded_https_count(tmp_path, monkeypatch, sqlite_url) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}
    direct = _make_app(sqlite_url, tmp_path, monkeypatch).test_client().get("/healthz", headers=forwarded)
    assert "Strict-Transport-Security" not in direct.headers
    proxied = _make_app(sqlite_url, tmp_path, monkeypatch, TRUSTED_PROXIES=1)
    response = proxied.test_client().get("/healthz", headers=forwarded)
    assert "Strict-Transport-Security" in response.headers


@pytest.mark.parametrize(
    ("setting", "raw", "named"),
    [
        ("LOG_FORMAT", "yaml", "LOG_FORMAT"),
        ("TRUSTED_PROXIES", -1, "TRUSTED_PROXIES"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
    ],
)
def test_bad_operations_settings_are_named(tmp_path, monkeypatch, sqlite_url, setting, raw, named) -> None:
    with pytest.raises(ConfigError, match=named):
        _make_app(sqlite_url, tmp_path, monkeypatch, **{setting: raw})
