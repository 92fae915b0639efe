"""The store owns its append lock: a write waits for it at most APPEND_LOCK_TIMEOUT_SECONDS, then gets a
clear retryable answer (503 with Retry-After) instead of hanging behind an import."""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import add_event, open_case

from tracker.services import transfer
from tracker.store.events import APPEND_LOCK


@pytest.fixture
def pg_app(app: Any, engine_name: str) -> Any:
    if engine_name != "postgres":
        pytest.skip("the append lock is PostgreSQL's advisory lock (SQLite serializes writers itself)")
    return app


def hold_lock(rt: Any, seconds: float, taken: threading.Event) -> None:
    """What an import does for its whole file: the append lock, held in an open transaction."""
    with rt.db.engine.connect() as conn, conn.begin():
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(APPEND_LOCK)))
        taken.set()
        time.sleep(seconds)


def test_a_write_waits_at_most_the_lock_timeout_then_gets_503_with_retry_after(
    pg_app: Any, api_for: Any
) -> None:
    rt = pg_app.extensions["tracker"]
    rt.settings["APPEND_LOCK_TIMEOUT_SECONDS"] = 0.5
    api = api_for(pg_app, "admin")
    case = open_case(api)
    taken = threading.Event()
    holder = threading.Thread(target=hold_lock, args=(rt, 4.0, taken))
    holder.start()
    try:
        assert taken.wait(10)
        started = time.monotonic()
        busy = api.post(f"/cases/{case}/events", {"type": "contact_made", "occurred_on": "2022-10-01"})
        waited = time.monotonic() - started
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
        assert "nothing was recorded" in busy.get_json()["error"]
        assert waited < 2.5, f"the write waited {waited:.1f} s for a lock timeout of 0.5 s"
        assert len(api.get(f"/cases/{case}/events").get_json()["events"]) == 1  # nothing stored
    finally:
        holder.join()
    # Once the lock is free, the same write goes through.
    add_event(api, case, "contact_made", "2022-10-01", {})


def test_a_write_to_another_case_during_a_real_import_is_not_held_beyond_the_timeout(
    pg_app: Any, api_for: Any
) -> None:
    rt = pg_app.extensions["tracker"]
    rt.settings["APPEND_LOCK_TIMEOUT_SECONDS"] = 1
    api = api_for(pg_app, "admin")
    case = open_case(api)
    notes = [
        {"type": "note_added", "occurred_on": "2022-10-01", "data": {"text": f"n{i}"}} for i in range(19)
    ]
    opened = {"pseudonym": "Bulk", "citizenship": "RU", "category": "other", "occurred_on": "2022-09-01"}
    line = {"case": opened, "events": notes}
    text = "".join(json.dumps(line) + "\n" for _ in range(1500))  # 30,000 events
    done: list[Any] = []
    importer = threading.Thread(target=lambda: done.append(transfer.import_file(rt, io.StringIO(text))))
    importer.start()
    answers = []
    try:
        time.sleep(0.5)
        while importer.is_alive():
            started = time.monotonic()
            answer = api.post(f"/cases/{case}/events", {"type": "contact_made", "occurred_on": "2022-10-01"})
            answers.append((answer.status_code, time.monotonic() - started))
            time.sleep(0.2)
    finally:
        importer.join()
    assert done == [(1500, 30000)]
    assert answers, "the import ended before any write was tried"
    assert {code for code, _ in answers} <= {201, 503}
    assert max(seconds for _, seconds in answers) < 3.5, answers
