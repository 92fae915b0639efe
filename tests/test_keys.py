"""Installation key rotation: every case key re-wrapped, no event rewritten, resumable after a kill."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import DATA_KEY, Json, _make_app, open_case

from tracker.auth.tables import AuditRow
from tracker.auth.users import Actor
from tracker.cli import cli
from tracker.config import ConfigError
from tracker.crypto.codec import CryptoError, kek_id
from tracker.services import keys
from tracker.services.runtime import Forbidden
from tracker.store.tables import CaseKeyRow, EventRow

ADMIN = Actor("ada", "admin")
NEW_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def key_id(text: str) -> str:
    return kek_id(base64.urlsafe_b64decode(text))


def open_cases(api: Json, count: int) -> dict[str, str]:
    """count cases, each with its own legal name; returns case id -> name."""
    names = {}
    for n in range(count):
        name = f"Legal Name {n:03d} Kuznetsov"
        names[open_case(api, f"Client {n:03d}", legal_name=name)] = name
    return names


def legal_names(app: Any, api: Json, cases: dict[str, str]) -> dict[str, str]:
    client = Json(app.test_client(), api.token)
    return {c: client.get(f"/cases/{c}/events").get_json()["events"][0]["data"]["legal_name"] for c in cases}


def wrapped_under(rt: Any) -> dict[str, int]:
    with rt.db.read() as session:
        rows = session.execute(sa.select(CaseKeyRow.kek_id, sa.func.count()).group_by(CaseKeyRow.kek_id))
        return {k: n for k, n in rows}


def raw_events(rt: Any) -> list[tuple[Any, ...]]:
    with rt.db.read() as session:
        return [tuple(r) for r in session.execute(sa.select(EventRow.id, EventRow.data, EventRow.hash))]


def test_rotation_rewraps_every_case_key_without_rewriting_events_and_the_old_key_can_go(
    app: Any, rt: Any, api_for: Any, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = api_for(app, "admin", "ada")
    cases = open_cases(admin, 7)
    events = raw_events(rt)

    both = _make_app(db_url, tmp_path, monkeypatch, DATA_KEY=NEW_KEY, OLD_DATA_KEYS=f" {DATA_KEY} ")
    rt2 = both.extensions["tracker"]
    # Before rotation the new installation reads old cases through the old key, and wraps new ones anew.
    assert legal_names(both, admin, cases) == cases
    newer = open_case(Json(both.test_client(), admin.token), "Newcomer", legal_name="Fresh Name")
    assert wrapped_under(rt2) == {key_id(DATA_KEY): 7, key_id(NEW_KEY): 1}
    status = {c.kek_id: (c.cases, c.current, c.known) for c in keys.key_status(rt2)}
    assert status == {key_id(NEW_KEY): (1, True, True), key_id(DATA_KEY): (7, False, True)}

    assert keys.rotate(rt2, ADMIN, batch_size=3) == 7
    assert wrapped_under(rt2) == {key_id(NEW_KEY): 8}
    assert raw_events(rt2)[: len(events)] == events  # no event was touched
    with rt2.db.read() as session:
        record = session.scalars(sa.select(AuditRow).where(AuditRow.action == "key_rotation")).one()
        assert record.target == key_id(NEW_KEY) and '"rewrapped": 7' in (record.detail or "")
    both.extensions["tracker"].db.dispose()

    only_new = _make_app(db_url, tmp_path, monkeypatch, DATA_KEY=NEW_KEY)
    assert legal_names(only_new, admin, cases) == cases
    assert legal_names(only_new, admin, {newer: ""})[newer] == "Fresh Name"
    assert only_new.test_cli_runner().invoke(cli, ["verify"]).exit_code == 0
    only_new.extensions["tracker"].db.dispose()


def test_without_the_old_key_rotation_refuses_and_changes_nothing(
    app: Any, api_for: Any, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_cases(api_for(app, "admin"), 2)
    new_only = _make_app(db_url, tmp_path, monkeypatch, DATA_KEY=NEW_KEY)
    rt = new_only.extensions["tracker"]
    with pytest.raises(CryptoError, match=f"{key_id(DATA_KEY)} \\(2 cases\\).*TRACKER_OLD_DATA_KEYS"):
        keys.rotate(rt, ADMIN)
    with pytest.raises(Forbidden):
        keys.rotate(rt, Actor("sam", "supervisor"))
    assert wrapped_under(rt) == {key_id(DATA_KEY): 2}
    result = new_only.test_cli_runner().invoke(cli, ["keys", "status"])
    assert f"{key_id(DATA_KEY)}\t2 cases\told, NOT configured" in result.output
    rt.db.dispose()


def test_a_malformed_old_key_is_a_configuration_error(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"TRACKER_OLD_DATA_KEYS \(key 2\) must decode to 32 bytes"):
        _make_app(db_url, tmp_path, monkeypatch, OLD_DATA_KEYS=f"{NEW_KEY},c2hvcnQ=")


# Run in a child process: rotate, but stop inside the third batch's transaction, before it commits,
# and wait there to be killed.
CHILD = """
import sys
from sqlalchemy import event
from sqlalchemy.orm import Session
from tracker import create_app
from tracker.auth.users import Actor
from tracker.services import keys

rt = create_app().extensions["tracker"]
commits = 0

@event.listens_for(Session, "before_commit")
def hold(session):
    global commits
    commits += 1
    if commits == 3:
        print("holding", flush=True)
        sys.stdin.readline()

keys.rotate(rt, Actor("operator", "admin"), batch_size=2)
print("finished", flush=True)
"""


def test_a_rotation_killed_halfway_leaves_every_key_usable_and_a_rerun_completes(
    app: Any, rt: Any, api_for: Any, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = api_for(app, "admin")
    cases = open_cases(admin, 9)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update(
        TRACKER_DATABASE_URL=db_url,
        TRACKER_DATA_KEY=NEW_KEY,
        TRACKER_OLD_DATA_KEYS=DATA_KEY,
        TRACKER_SECRET_KEY="test-secret",
        TRACKER_INSTANCE_PATH=str(tmp_path / "instance"),  # the same keyring
    )
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.strip() == "holding", child.stderr.read() if child.stderr else ""
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream:
                stream.close()
    assert child.returncode == -signal.SIGKILL

    # Two batches committed, the third was lost: every key is under one key or the other.
    assert wrapped_under(rt) == {key_id(NEW_KEY): 4, key_id(DATA_KEY): 5}
    both = _make_app(db_url, tmp_path, monkeypatch, DATA_KEY=NEW_KEY, OLD_DATA_KEYS=DATA_KEY)
    assert legal_names(both, admin, cases) == cases
    result = both.test_cli_runner().invoke(cli, ["keys", "rotate", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "re-wrapped 5 case keys" in result.output
    assert wrapped_under(rt) == {key_id(NEW_KEY): 9}
    both.extensions["tracker"].db.dispose()

    only_new = _make_app(db_url, tmp_path, monkeypatch, DATA_KEY=NEW_KEY)
    assert legal_names(only_new, admin, cases) == cases
    status = only_new.test_cli_runner().invoke(cli, ["keys", "status"])
    assert "old keys can be destroyed" in status.output
    only_new.extensions["tracker"].db.dispose()
