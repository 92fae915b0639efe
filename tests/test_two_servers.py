"""Two `tracker serve` processes of the installed wheel on one PostgreSQL database: written to at once
for the same cases, they lose nothing; started with different data keys, the second refuses to start."""

from __future__ import annotations

import base64
import json
import re
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alertkit import free_port, staff, stay_case
from conftest import DATA_KEY, _make_app, fresh_pg_database, pg_unavailable
from prometheus_client.parser import text_string_to_metric_families
from wheelkit import Installed, clean_env, installed_fixture  # noqa: F401

from tracker.alerts.tables import AlertRow
from tracker.config import key_fingerprint
from tracker.store.tables import EventRow

pytestmark = pytest.mark.postgres

THREADS = 8
APPENDS_EACH = 10
CASES = 4
MAX_TRIES = 60
# Loopback only; no proxy from the environment may step in.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _env(url: str, instance: Path, key: str | None = DATA_KEY) -> dict[str, str]:
    env = clean_env(
        instance.parent / "home",
        TRACKER_DATABASE_URL=url,
        TRACKER_SECRET_KEY="shared-test-secret",
        TRACKER_INSTANCE_PATH=str(instance),
        # Every server of an installation shares one keyring (docs/deploy.md): here the one in the
        # instance folder of the in-process app that prepares the cases (conftest's _make_app).
        TRACKER_KEYRING_PATH=str(instance.parent / "instance" / "keyring"),
    )
    if key:
        env["TRACKER_DATA_KEY"] = key
    return env


def _call(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with OPENER.open(request, timeout=20) as response:
            raw = response.read()
            status = response.status
            kind = response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        raw, status, kind = exc.read(), exc.code, exc.headers.get_content_type()
    return status, (json.loads(raw) if kind == "application/json" else raw.decode())


def _wait_healthy(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server stopped: {log.read_text()[-2000:]}"
        try:
            status, _doc = _call(base, "GET", "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not become healthy: {log.read_text()[-2000:]}")


def _appends_counted(base: str) -> float:
    status, text = _call(base, "GET", "/metrics")
    assert status == 200, text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tracker_events_appended_total" and sample.labels == {"source": "api"}:
                return float(sample.value)
    return 0.0


def _stop(procs: list[subprocess.Popen]) -> None:
    running = [p for p in procs if p.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    for proc in running:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_two_servers_on_one_database_lose_nothing_and_pass_one_at_a_time(
    installed: Installed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    url = fresh_pg_database()
    app = _make_app(url, tmp_path, monkeypatch)
    rt = app.extensions["tracker"]
    people = staff(app)
    token = people["admin"].token
    today = rt.today()
    cases = [
        stay_case(people["admin"], today, today + timedelta(days=3), name=f"Heron{n}") for n in range(CASES)
    ]

    servers: list[tuple[subprocess.Popen, str, Path]] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = tmp_path / f"server-{name}.log"
            with open(log, "w") as out:
                proc = subprocess.Popen(
                    [str(installed.tracker), "serve", "--workers", "2", "--port", str(port)],
                    cwd=tmp_path,
                    env=_env(url, tmp_path / f"instance-{name}"),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            servers.append((proc, f"http://127.0.0.1:{port}", log))
        for proc, base, log in servers:
            _wait_healthy(base, proc, log)
        bases = [base for _proc, base, _log in servers]

        sent: list[str] = []
        stored_by: Counter[str] = Counter()
        conflicts: Counter[str] = Counter()
        failures: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(THREADS)

        def writer(i: int) -> None:
            start.wait()
            for j in range(APPENDS_EACH):
                base = bases[(i + j) % 2]
                case = cases[(i + j) % CASES]
                text = f"note {i}-{j}"
                for _try in range(MAX_TRIES):
                    status, doc = _call(base, "GET", f"/api/v1/cases/{case}", token)
                    assert status == 200, doc
                    body = {
                        "type": "note_added",
                        "occurred_on": "2023-01-01",
                        "data": {"text": text},
                        "expected_version": doc["version"],
                    }
                    status, answer = _call(base, "POST", f"/api/v1/cases/{case}/events", token, body)
                    if status == 201:
                        with lock:
                            sent.append(text)
                            stored_by[base] += 1
                        break
                    if status != 409:
                        with lock:
                            failures.append(f"{status} {answer}")
                        return
                    with lock:
                        conflicts[base] += 1
                else:
                    with lock:
                        failures.append(f"{text}: still conflicting after {MAX_TRIES} tries")

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "a writer did not finish"
        assert not failures, failures
        assert len(sent) == THREADS * APPENDS_EACH
        assert all(stored_by[b] > 0 for b in bases), stored_by

        # Each server's /metrics adds up both of its workers: exactly the appends it answered 201 to.
        for base in bases:
            assert _appends_counted(base) == stored_by[base]
    finally:
        _stop([proc for proc, _base, _log in servers])

    with rt.db.read() as session:
        rows = session.execute(
            sa.select(EventRow.case_id, EventRow.version).order_by(EventRow.case_id, EventRow.version)
        ).all()
    versions: dict[str, list[int]] = {}
    for case_id, version in rows:
        versions.setdefault(case_id, []).append(version)
    assert sorted(versions) == sorted(cases)
    for case_id, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), f"{case_id}: versions {seen}"

    texts: Counter[str] = Counter()
    for case_id in cases:
        for event in people["admin"].get(f"/cases/{case_id}/events").get_json()["events"]:
            if event["type"] == "note_added":
                texts[event["data"]["text"]] += 1
    assert texts == Counter(sent)  # every sent event stored, exactly once

    env_a, env_b = _env(url, tmp_path / "instance-a"), _env(url, tmp_path / "instance-b")
    verify = subprocess.run(
        [str(installed.tracker), "verify"],
        cwd=tmp_path,
        env=env_a,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # Both servers' environments run a scheduler pass at the same moment: the pass lock lets one in at
    # a time, so each alert is made once and mailed (here: logged) once.
    passes = [
        subprocess.Popen(
            [str(installed.tracker), "scheduler", "--once"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for env in (env_a, env_b)
    ]
    outputs = [p.communicate(timeout=60) for p in passes]
    for proc, (_out, err) in zip(passes, outputs, strict=True):
        assert proc.returncode == 0, err
    numbers = [re.search(r"(\d+) alerts created .* (\d+) sent, (\d+) logged", out) for out, _err in outputs]
    assert all(numbers), outputs
    created = [int(m.group(1)) for m in numbers if m]
    logged = [int(m.group(3)) for m in numbers if m]
    with rt.db.read() as session:
        alerts = session.execute(sa.select(AlertRow.deadline_key, AlertRow.stage, AlertRow.username)).all()
    assert len(alerts) >= CASES and len(set(alerts)) == len(alerts)
    assert sum(created) == len(alerts) and min(created) == 0
    addressed = [a for a in alerts if a.username in ("anna", "boris")]  # the staff with an address
    assert sum(logged) == len(addressed) > 0


def test_a_second_server_with_another_data_key_or_none_refuses_to_start(
    installed: Installed, tmp_path: Path
) -> None:
    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    url = fresh_pg_database()
    other = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    port = free_port()
    log = tmp_path / "server-a.log"
    with open(log, "w") as out:
        first = subprocess.Popen(
            [str(installed.tracker), "serve", "--workers", "1", "--port", str(port)],
            cwd=tmp_path,
            env=_env(url, tmp_path / "instance-a"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", first, log)
        for key, expected in (
            (
                other,
                f"Error: data key fingerprint mismatch: this database belongs to the installation key with "
                f"fingerprint {_fingerprint(DATA_KEY)}, but TRACKER_DATA_KEY has fingerprint "
                f"{_fingerprint(other)}; ",
            ),
            (None, "Error: no data key: on PostgreSQL the tracker never makes one itself; make one with "
                   "`tracker keys generate` and give it in TRACKER_DATA_KEY or in a file named by "
                   "TRACKER_DATA_KEY_FILE\n"),
        ):  # fmt: skip
            second = subprocess.run(
                [str(installed.tracker), "serve", "--workers", "1", "--port", str(free_port())],
                cwd=tmp_path,
                env=_env(url, tmp_path / "instance-b", key),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 1, second.stdout + second.stderr
            assert second.stderr.startswith(expected), second.stderr
            assert len(second.stderr.splitlines()) == 1 and second.stdout == ""
        assert not (tmp_path / "instance-b" / "data_key").exists()
        assert first.poll() is None  # the first server runs on, untouched
    finally:
        _stop([first])


def _fingerprint(key: str) -> str:
    return key_fingerprint(base64.urlsafe_b64decode(key))
