"""The scheduler: its jobs in APScheduler's store, the pass lock, real `tracker scheduler` processes."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alertkit import free_port, staff, stay_case, user
from conftest import DATA_KEY

from tracker.alerts.lock import pass_lock
from tracker.alerts.tables import AlertRow, JobRow
from tracker.scheduler import jobs
from tracker.scheduler.runner import make_scheduler, reconcile, start, stop
from tracker.services import transfer
from tracker.services.alerts import deliver_mail, run_pass

TRACKER = Path(sys.prefix) / "bin" / "tracker"
JOB_IDS = {"deadlines.scan", "alerts.mail", "store.checkpoint"}
PIPES: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}


def stored_job_ids(rt: Any) -> set[str]:
    with rt.db.read() as session:
        return set(session.scalars(sa.select(JobRow.id)))


def alert_count(rt: Any) -> int:
    with rt.db.read() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(AlertRow)) or 0)


def wait_for(check: Any, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_the_job_list_is_reconciled_into_the_job_store(rt) -> None:
    scheduler = make_scheduler(rt)
    scheduler.start(paused=True)
    try:
        scheduler.add_job(jobs.send_mail, "interval", seconds=5, id="retired.job")
        reconcile(scheduler, jobs.job_list(rt.settings))
        reconcile(scheduler, jobs.job_list(rt.settings))  # a second start changes nothing
        assert stored_job_ids(rt) == JOB_IDS
        for job in scheduler.get_jobs():
            assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, None)
            assert job.func_ref.startswith("tracker.scheduler.jobs:")
        scan = scheduler.get_job("deadlines.scan")
        assert scan.trigger.interval == timedelta(seconds=rt.settings["SCHEDULER_INTERVAL_SECONDS"])
    finally:
        scheduler.shutdown(wait=False)


def test_a_started_scheduler_makes_a_pass_at_once_and_stops_cleanly(app, rt) -> None:
    today = rt.today()
    stay_case(staff(app)["admin"], today, today + timedelta(days=3))
    scheduler = start(rt)
    try:
        assert wait_for(lambda: alert_count(rt) == 1)
    finally:
        stop(scheduler)
    assert not scheduler.running
    with pytest.raises(RuntimeError, match="jobs run only inside"):
        jobs.scan_deadlines()


def test_one_pass_at_a_time(app, rt) -> None:
    today = rt.today()
    stay_case(staff(app)["admin"], today, today + timedelta(days=3))
    finished: list[Any] = []
    with pass_lock(rt.db) as held:
        assert held
        assert run_pass(rt, wait=False).skipped
        assert deliver_mail(rt, wait=False) is not None  # sending has a lock of its own
        waiting = threading.Thread(target=lambda: finished.append(run_pass(rt, wait=True)))
        waiting.start()
        time.sleep(0.3)
        assert waiting.is_alive() and alert_count(rt) == 0
    waiting.join(20)
    assert not waiting.is_alive()
    (result,) = finished
    assert not result.skipped and result.created == 1
    with pass_lock(rt.db, name="mail") as held:
        assert held and deliver_mail(rt, wait=False) is None
        assert not run_pass(rt, wait=False).skipped


def _env(db_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "FLASK_"))}
    env.update(
        TRACKER_DATABASE_URL=db_url,
        TRACKER_DATA_KEY=DATA_KEY,
        TRACKER_SECRET_KEY="test-secret",
        TRACKER_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    return env


def _two_hundred_deadlines(app: Any, rt: Any) -> None:
    """40 cases of anna with 5 reminders each, all due within the next week (one import, one transaction)."""
    user(app, "anna", "caseworker")
    user(app, "sam", "supervisor")
    today = rt.today()
    opened = (today - timedelta(days=10)).isoformat()
    lines = []
    for n in range(40):
        events = [{"type": "caseworker_assigned", "occurred_on": opened, "data": {"username": "anna"}}]
        for k in range(5):
            due = (today + timedelta(days=(n + k) % 8)).isoformat()
            events.append(
                {"type": "reminder_set", "occurred_on": opened, "data": {"title": f"R{k}", "due_on": due}}
            )
        case = {"pseudonym": f"Case {n:02d}", "citizenship": "RU", "category": "other", "occurred_on": opened}
        lines.append(json.dumps({"case": case, "events": events}))
    assert transfer.import_file(rt, io.StringIO("\n".join(lines) + "\n")) == (40, 280)


def test_three_scheduler_processes_at_once_create_each_alert_exactly_once(app, rt, db_url, tmp_path) -> None:
    _two_hundred_deadlines(app, rt)
    env = _env(db_url, tmp_path)
    procs = [
        subprocess.Popen(
            [str(TRACKER), "scheduler", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    created = [int(re.match(r"(\d+) alerts created", out).group(1)) for out, _ in outputs]  # type: ignore[union-attr]
    assert sum(created) == 200 and sorted(created)[:2] == [0, 0]
    with rt.db.read() as session:
        rows = session.execute(sa.select(AlertRow.deadline_key, AlertRow.stage, AlertRow.username)).all()
    assert len(rows) == 200
    assert len({r.deadline_key for r in rows}) == 200 and {r.username for r in rows} == {"anna"}


def test_the_scheduler_process_runs_until_terminated(app, rt, db_url, tmp_path) -> None:
    today = rt.today()
    stay_case(staff(app)["admin"], today, today + timedelta(days=3))
    proc = subprocess.Popen(
        [str(TRACKER), "scheduler"],
        env=_env(db_url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: alert_count(rt) == 1, 60), proc.stderr
        assert stored_job_ids(rt) == JOB_IDS
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "scheduler started" in err and "scheduler stopping" in err


def test_serve_with_scheduler_runs_the_passes_in_the_server(sqlite_app, sqlite_url, tmp_path) -> None:
    rt = sqlite_app.extensions["tracker"]
    today = rt.today()
    stay_case(staff(sqlite_app)["admin"], today, today + timedelta(days=3))
    port = str(free_port())
    command = [str(TRACKER), "serve", "--port", port, "--workers", "1", "--with-scheduler"]
    proc = subprocess.Popen(command, env=_env(sqlite_url, tmp_path), **PIPES)
    try:
        assert wait_for(lambda: alert_count(rt) == 1, 60)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "scheduler started" in err and "Traceback" not in err
