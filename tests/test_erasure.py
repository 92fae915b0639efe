"""Erasure: a case's key destroyed for good, its history, status and chain intact, on both engines."""

from __future__ import annotations

import base64
import html
import json
import re
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, Json, add_event, open_case

from tracker.auth.tables import AuditRow
from tracker.auth.users import Actor
from tracker.cli import cli
from tracker.services.erasure import erase_case
from tracker.services.runtime import Forbidden, NotFound
from tracker.store.tables import CaseKeyRow

NAME = "Zinovy Quartermaine-Ostrakova"
PHONE = "+7 701 555 01 99"
ADDRESS = "Kenesary street 41, flat 7"
SECRETS = (NAME, PHONE, ADDRESS)


def seed(admin: Json) -> str:
    """A case with a distinctive legal name, phone and address, a stay deadline and a caseworker."""
    case = open_case(admin, "Sparrow", legal_name=NAME)
    add_event(admin, case, "fled_country", "2022-09-26", {"from_country": "RU", "to_country": "KZ"})
    add_event(
        admin,
        case,
        "contact_details_changed",
        "2023-01-10",
        {"phone": PHONE, "address": ADDRESS, "reason": "sim_changed"},
    )
    until = (date.today() + timedelta(days=40)).isoformat()
    stay = {"country": "KZ", "kind": "visa_free", "valid_until": until}
    add_event(admin, case, "stay_permitted", "2023-01-12", stay)
    return case


def answers(api: Json, case: str) -> str:
    """Every API answer about the case, as one text."""
    texts = []
    paths = ("/cases", f"/cases/{case}", f"/cases/{case}/events", f"/cases/{case}/deadlines", "/deadlines")
    for path in paths:
        r = api.get(path)
        assert r.status_code == 200, (path, r.get_json())
        texts.append(r.get_data(as_text=True))
    return "\n".join(texts)


def pages(app: Any, username: str, case: str) -> str:
    """Every web page about the case that the user can open, signed in through the form."""
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
    assert token, "the sign-in page has no CSRF token"
    data = {"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=data).status_code == 302
    texts = []
    for path in ("/", "/cases", f"/cases/{case}", f"/cases/{case}?as_of=2023-02-01", f"/cases/{case}/audit"):
        r = client.get(path)
        assert r.status_code == 200, path
        texts.append(html.unescape(r.get_data(as_text=True)))
    return "\n".join(texts)


def run(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(cli, list(args))


def test_erasure_hides_every_sensitive_field_and_keeps_history_status_and_chain(
    app: Any, rt: Any, api_for: Any, tmp_path: Path
) -> None:
    admin, auditor = api_for(app, "admin"), api_for(app, "auditor")
    case = seed(admin)
    assert all(s in answers(admin, case) for s in SECRETS)  # the checks below could fail
    assert all(s in pages(app, admin.username, case) for s in SECRETS)
    status_before = admin.get(f"/cases/{case}").get_json()["status"]
    events_before = admin.get(f"/cases/{case}/events").get_json()["events"]

    result = run(app, "erase", case, "--reason", "client asked, emergency")
    assert result.exit_code == 0, result.output

    text = answers(admin, case) + answers(auditor, case)
    text += pages(app, admin.username, case) + pages(app, auditor.username, case)
    assert not any(s in text for s in SECRETS)
    events = admin.get(f"/cases/{case}/events").get_json()["events"]
    assert events[0]["data"]["legal_name"] == "[erased]"
    assert events[2]["data"]["phone"] == "[erased]" and events[2]["data"]["reason"] == "sim_changed"
    assert events[-1]["type"] == "personal_data_erased"
    assert events[-1]["data"] == {"reason": "client asked, emergency"}
    audited = auditor.get(f"/cases/{case}/events").get_json()["events"]
    assert "legal_name" not in audited[0]["data"] and "phone" not in audited[2]["data"]
    # The history is untouched: same events, same hashes, one more at the end.
    assert [(e["id"], e["hash"]) for e in events[:-1]] == [(e["id"], e["hash"]) for e in events_before]
    status = admin.get(f"/cases/{case}").get_json()["status"]
    assert status == status_before
    assert status["pseudonym"] == "Sparrow" and status["country"] == "KZ"
    assert status["legal_stay"]["kind"] == "visa_free" and status["next_deadline"]["kind"] == "stay_expires"

    out = tmp_path / "export.jsonl"
    assert run(app, "export", case, "-o", str(out)).exit_code == 0
    exported = out.read_text(encoding="utf-8")
    assert not any(s in exported for s in SECRETS)
    line = json.loads(exported)
    assert line["case"]["pseudonym"] == "Sparrow" and "legal_name" not in line["case"]

    verify = run(app, "verify")
    assert verify.exit_code == 0, verify.output
    with rt.db.read() as session:
        assert session.get(CaseKeyRow, case) is None
        record = session.scalars(sa.select(AuditRow).where(AuditRow.action == "erasure")).one()
        assert (record.target, record.actor) == (case, "system")
        export = session.scalars(sa.select(AuditRow).where(AuditRow.action == "export")).one()
        assert (export.target, export.actor) == (case, "operator")
        assert json.loads(export.detail or "") == {"all": False, "cases": 1}


def test_no_copy_of_the_key_stays_in_the_sqlite_file_its_wal_or_the_instance_folder(
    sqlite_app: Any, api_for: Any, tmp_path: Path
) -> None:
    rt = sqlite_app.extensions["tracker"]
    admin = api_for(sqlite_app, "admin")
    case = seed(admin)
    other = open_case(admin, "Farhad", legal_name="Somebody Else")
    with rt.db.read() as session:
        wrapped = session.get(CaseKeyRow, case).wrapped
        key = rt.case_key(session, case)
    database = Path(sa.make_url(rt.db.url).database or "")
    copies = (wrapped, key, base64.b64encode(key), base64.urlsafe_b64encode(key), key.hex().encode())

    def disk() -> bytes:
        wal = database.with_name(database.name + "-wal")
        return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    assert wrapped in disk()  # the key is on disk before: the checks below can fail
    assert run(sqlite_app, "erase", case, "--reason", "deletion request").exit_code == 0

    raw = disk()
    assert not any(c in raw for c in copies)
    assert not any(s.encode() in raw for s in SECRETS)
    for path in (tmp_path / "instance").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(c in content for c in copies), path
    # The other case still opens: only the one key was destroyed.
    events = admin.get(f"/cases/{other}/events").get_json()["events"]
    assert events[0]["data"]["legal_name"] == "Somebody Else"


def test_erasing_twice_is_refused_with_a_clear_message_and_stores_nothing(app: Any, api_for: Any) -> None:
    admin = api_for(app, "admin")
    case = seed(admin)
    assert run(app, "erase", case, "--reason", "first").exit_code == 0
    version = admin.get(f"/cases/{case}").get_json()["version"]
    result = run(app, "erase", case, "--reason", "second")
    assert result.exit_code == 1
    assert "already erased" in result.output and "Traceback" not in result.output
    assert admin.get(f"/cases/{case}").get_json()["version"] == version


def test_only_admins_erase_and_an_erased_case_takes_no_new_personal_data(
    app: Any, rt: Any, api_for: Any
) -> None:
    admin = api_for(app, "admin")
    case = seed(admin)
    with pytest.raises(Forbidden):
        erase_case(rt, Actor("sam", "supervisor"), case, "not allowed")
    with pytest.raises(NotFound):
        erase_case(rt, Actor("ada", "admin"), "00000000-0000-0000-0000-000000000000", "no such case")
    erase_case(rt, Actor("ada", "admin"), case, "emergency", source="web")

    r = admin.post(
        f"/cases/{case}/events",
        {"type": "contact_details_changed", "occurred_on": "2023-02-01", "data": {"phone": PHONE}},
    )
    assert r.status_code == 422 and "erased" in r.get_json()["fields"]["phone"]
    add_event(admin, case, "contact_made", "2023-02-02", {"channel": "signal"})
    assert PHONE not in answers(admin, case)


def test_an_open_reader_makes_erase_say_the_wal_may_keep_the_key_quickly_and_a_checkpoint_finishes_it(
    sqlite_app: Any, api_for: Any
) -> None:
    rt = sqlite_app.extensions["tracker"]
    admin = api_for(sqlite_app, "admin")
    case = seed(admin)
    with rt.db.read() as session:
        wrapped = session.get(CaseKeyRow, case).wrapped
    database = Path(sa.make_url(rt.db.url).database or "")
    wal = database.with_name(database.name + "-wal")

    reader = sqlite3.connect(database, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM case_keys").fetchone()  # holds a read snapshot
        started = time.monotonic()
        result = run(sqlite_app, "erase", case, "--reason", "deletion request")
        elapsed = time.monotonic() - started
        assert elapsed < 10, elapsed
        assert result.exit_code == 1, result.output
        assert "erased (version" in result.output
        (error,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert "may remain in the write-ahead log" in error and "tracker db checkpoint" in error
        assert "Traceback" not in result.output
        # The erasure itself stands.
        with rt.db.read() as session:
            assert session.get(CaseKeyRow, case) is None
        assert admin.get(f"/cases/{case}/events").get_json()["events"][-1]["type"] == "personal_data_erased"
        assert wrapped in database.read_bytes() + wal.read_bytes()  # what the message warns of
    finally:
        reader.close()

    done = run(sqlite_app, "db", "checkpoint")
    assert done.exit_code == 0, done.output
    raw = database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert wrapped not in raw


def test_the_web_erase_flashes_that_the_wal_may_keep_the_key_while_a_reader_is_open(
    sqlite_app: Any, api_for: Any
) -> None:
    rt = sqlite_app.extensions["tracker"]
    admin = api_for(sqlite_app, "admin")
    case = seed(admin)
    client = sqlite_app.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
    assert token
    data = {"username": admin.username, "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=data).status_code == 302
    page = client.get(f"/cases/{case}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token
    reader = sqlite3.connect(Path(sa.make_url(rt.db.url).database or ""), isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM case_keys").fetchone()
        started = time.monotonic()
        form = {"reason": "deletion request", "confirm": "Sparrow", "csrf_token": token.group(1)}
        done = client.post(f"/cases/{case}/erase", data=form, follow_redirects=True)
        assert time.monotonic() - started < 10
    finally:
        reader.close()
    shown = html.unescape(done.get_data(as_text=True))
    assert "may remain in the write-ahead log" in shown and "tracker db checkpoint" in shown
    with rt.db.read() as session:
        assert session.get(CaseKeyRow, case) is None
