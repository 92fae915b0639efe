"""`tracker serve --with-scheduler --workers 4`, as scripts/demo runs it: a real gunicorn, real processes.

Each start gets its own copy of one database: the demo, plus many cases whose deadlines owe alerts
(loaded straight into the read models, as bench/scheduler_pass.py does), so that the first pass of
every start has thousands of alerts to make and lasts about a second. While that pass runs the test
sends SIGHUP, so gunicorn's master forks four new workers with a pass in flight, and the old ones
leave; the log's timestamps show that the forks fell inside the pass. Then 50 reads and 50 writes go
out at once, with an API token, and each must be answered correctly within a few seconds.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alertkit import free_port
from conftest import DATA_KEY, PG_URL, fresh_pg_database, pg_unavailable

from tracker import create_app

ROOT = Path(__file__).resolve().parent.parent
TRACKER = Path(sys.prefix) / "bin" / "tracker"
STARTS = 10
PARALLEL = 50
#: Cases whose deadlines make the first pass of a start last about a second on each engine.
CASES = {"sqlite": 10_000, "postgres": 30_000}
#: What "within a few seconds" means for one answer, on two busy shared cores.
ANSWER_SECONDS = 8.0
DEMO_PASSWORD = "demo-password-for-tests"

pytestmark = pytest.mark.slow


@dataclass
class Template:
    engine: str
    url: str
    token: str
    readable: dict[str, str]  # case id -> pseudonym, cases anna may read
    keyring: Path  # the keyring the template's case keys are under; every start gets a copy


def _bulk_cases(url: str, count: int, today: Any, rules: Any) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.scheduler_pass import generate, load
    finally:
        sys.path.remove(str(ROOT))
    engine = sa.create_engine(url)
    try:
        load(engine, generate(count, rules, today, seed=7))
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """A database with the demo, anna's API token, and CASES[engine] cases owing alerts."""
    from tracker.auth.users import Actor, issue_token
    from tracker.migrate import upgrade
    from tracker.services.demo import load_demo
    from tracker.services.reading import CaseFilter, list_cases

    engine = str(request.param)
    if engine == "postgres":
        reason = pg_unavailable()
        if reason:
            pytest.skip(reason)
        url = fresh_pg_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('serve') / 'template.db'}"
        upgrade(url)
    instance = tmp_path_factory.mktemp("instance")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRACKER_INSTANCE_PATH", str(instance))
        app = create_app({"DATABASE_URL": url, "DATA_KEY": DATA_KEY, "SECRET_KEY": "test-secret"})
    rt = app.extensions["tracker"]
    load_demo(rt, DEMO_PASSWORD)
    with rt.db.write() as session:
        token = issue_token(session, "anna")
    cases, _ = list_cases(rt, Actor("anna", "caseworker"), CaseFilter())
    readable = {str(c["id"]): str(c["pseudonym"]) for c in cases}
    assert readable, "the demo gives anna cases to read"
    _bulk_cases(url, CASES[engine], rt.today(), rt.rules)
    rt.db.dispose()
    yield Template(engine, url, token, readable, instance / "keyring")


def _copy(template: Template, folder: Path) -> str:
    """A database of this start only, equal to the template: every start's first pass makes the alerts."""
    if template.engine == "sqlite":
        target = folder / "tracker.db"
        source = sqlite3.connect(sa.make_url(template.url).database)
        copy = sqlite3.connect(target)
        source.backup(copy)
        source.close()
        copy.close()
        return f"sqlite:///{target}"
    name = f"tracker_serve_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{sa.make_url(template.url).database}"'))
    admin.dispose()
    return sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _drop(template: Template, url: str) -> None:
    if template.engine == "postgres":
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Server:
    """A running `tracker serve`, with its log lines as they arrive (JSON decoded where they are)."""

    proc: subprocess.Popen[str]
    port: int
    reader: threading.Thread | None = None
    url: str = ""
    lines: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    def read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.raw.append(line)
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                self.lines.append({"message": line.rstrip(), "level": "RAW"})

    def wait_for(self, check: Any, what: str, seconds: float = 60.0) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"waited {seconds:.0f} s for {what}; log:\n{''.join(self.raw)}")

    def messages(self, start: str) -> list[dict[str, Any]]:
        return [line for line in list(self.lines) if str(line.get("message", "")).startswith(start)]


def _at(line: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(line["time"].replace("Z", "+00:00"))


def _request(port: int, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_SECONDS * 3)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        status = response.status
    except OSError as exc:  # a timeout or a dropped connection is an answer that failed
        return 0, repr(exc), time.monotonic() - started
    finally:
        conn.close()
    try:
        payload = json.loads(data)
    except ValueError:
        payload = data[:300]
    return status, payload, time.monotonic() - started


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _burst(port: int, template: Template, start: int) -> list[str]:
    """50 reads and 50 writes sent at once; the problems found (empty when all answered well)."""
    ids = list(template.readable)
    gate = threading.Barrier(2 * PARALLEL)

    def read(i: int) -> tuple[str, tuple[int, Any, float]]:
        case_id = ids[i % len(ids)]
        gate.wait()
        return f"read {case_id}", _request(port, "GET", f"/api/v1/cases/{case_id}", template.token)

    def write(i: int) -> tuple[str, tuple[int, Any, float]]:
        body = {
            "pseudonym": f"Start{start} Writer{i}",
            "citizenship": "RU",
            "category": "mobilization_evader",
            "occurred_on": "2022-09-25",
        }
        gate.wait()
        return f"write {i}", _request(port, "POST", "/api/v1/cases", template.token, body)

    with ThreadPoolExecutor(2 * PARALLEL) as pool:
        futures = [pool.submit(read, i) for i in range(PARALLEL)]
        futures += [pool.submit(write, i) for i in range(PARALLEL)]
        results = [f.result() for f in futures]
    problems = []
    for what, (status, payload, seconds) in results:
        if what.startswith("read"):
            case_id = what.split()[1]
            good = (
                status == 200
                and payload["id"] == case_id
                and payload["status"]["pseudonym"] == template.readable[case_id]
            )
        else:
            good = status == 201 and isinstance(payload, dict) and "id" in payload
        if not good or seconds > ANSWER_SECONDS:
            problems.append(f"{what}: {status} in {seconds:.1f} s: {str(payload)[:200]}")
    slowest = max(seconds for _, (_, _, seconds) in results)
    print(f"start {start}: 100 answers, the slowest in {slowest:.2f} s")
    return problems


def _start(template: Template, folder: Path, url: str) -> Server:
    (folder / "instance").mkdir(mode=0o700, exist_ok=True)
    shutil.copy2(template.keyring, folder / "instance" / "keyring")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "FLASK_", "PROMETHEUS_"))}
    env.update(
        TRACKER_DATABASE_URL=url,
        TRACKER_DATA_KEY=DATA_KEY,
        TRACKER_SECRET_KEY="test-secret",
        TRACKER_INSTANCE_PATH=str(folder / "instance"),
    )
    port = free_port()
    command = [str(TRACKER), "serve", "--port", str(port), "--workers", "4", "--with-scheduler"]
    # A session of its own, so that a failed start can end every process of it.
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    server = Server(proc, port)
    server.reader = threading.Thread(target=server.read, daemon=True)
    server.reader.start()
    return server


def _one_start(template: Template, folder: Path, start: int) -> Server:
    """Start, fork during the first pass, answer the burst, then SIGTERM (see `_stopped`)."""
    url = _copy(template, folder)
    server = _start(template, folder, url)
    server.url = url
    try:
        server.wait_for(lambda: len(server.messages("Booting worker")) >= 4, "four workers")
        first = {line["message"].rsplit(" ", 1)[1] for line in server.messages("Booting worker")}
        started = server.wait_for(lambda: server.messages("deadline pass starting"), "the first pass")[0]
        server.proc.send_signal(signal.SIGHUP)  # four new workers, forked now, while the pass runs
        server.wait_for(lambda: len(server.messages("Booting worker")) >= 8, "four new workers")
        server.wait_for(
            lambda: (
                {line["message"].split()[-1].rstrip(")") for line in server.messages("Worker exiting")}
                >= first
            ),
            "the first four workers to leave",
        )
        server.wait_for(lambda: _healthy(server.port), "an answer from the new workers")
        problems = _burst(server.port, template, start)
        finished = server.wait_for(lambda: server.messages("deadline pass finished"), "the pass's end")[0]
        forks = [_at(line) for line in server.messages("Booting worker")[4:]]
        assert all(_at(started) <= fork <= _at(finished) for fork in forks), (
            f"the pass ({started['time']} to {finished['time']}) was not in flight during the forks "
            f"({[line['time'] for line in server.messages('Booting worker')[4:]]}): give it more cases"
        )
        assert not problems, f"start {start}: {len(problems)} bad answers:\n" + "\n".join(problems[:20])
        assert int(finished["message"].split(": ")[1].split()[0]) > 0, finished  # the pass made alerts
        listed = _request(server.port, "GET", f"/api/v1/cases?q=Start{start}&limit=100", template.token)
        assert listed[0] == 200 and len(listed[1]["cases"]) == PARALLEL, listed
    except BaseException:
        _end(template, server)
        raise
    server.proc.send_signal(signal.SIGTERM)
    return server


def _end(template: Template, server: Server) -> None:
    """Wait for the server to exit (killing what is left after a minute), then drop its database."""
    try:
        server.proc.wait(60)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
    with suppress(ProcessLookupError):  # workers left behind by a master that did not stop them
        os.killpg(server.proc.pid, signal.SIGKILL)
    assert server.reader is not None and server.proc.stderr is not None
    server.reader.join(10)
    server.proc.stderr.close()
    _drop(template, server.url)


def _stopped(template: Template, server: Server) -> None:
    """The server stopped by SIGTERM exits 0, with its scheduler process, no error and no traceback."""
    _end(template, server)
    log = "".join(server.raw)
    assert server.proc.returncode == 0, log
    assert "Traceback" not in log and not server.messages("database is locked"), log
    # gunicorn logs each worker that SIGHUP or SIGTERM replaced or stopped as an error.
    errors = [
        line
        for line in server.lines
        if line.get("level") in ("ERROR", "CRITICAL", "RAW") and "was sent SIGTERM" not in line["message"]
    ]
    assert not errors, errors
    assert server.messages("scheduler stopping"), (
        f"the scheduler process did not stop with the server:\n{log}"
    )


def test_the_demo_server_answers_reads_and_writes_while_a_pass_runs(
    template: Template, tmp_path: Path
) -> None:
    # A stopping server (gunicorn's workers take a second or two to leave) overlaps the next start.
    with ThreadPoolExecutor(1) as stopping:
        stops = []
        for start in range(1, STARTS + 1):
            folder = tmp_path / f"start{start}"
            folder.mkdir()
            server = _one_start(template, folder, start)
            stops.append(stopping.submit(_stopped, template, server))
        for stop in stops:
            stop.result()


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return True
    return state == "Z"  # ended, not yet reaped by whoever adopted it


@pytest.mark.parametrize("template", ["sqlite"], indirect=True)
def test_the_scheduler_process_is_restarted_and_ends_with_a_killed_server(
    template: Template, tmp_path: Path
) -> None:
    url = _copy(template, tmp_path)
    server = _start(template, tmp_path, url)
    server.url = url
    try:
        first = server.wait_for(lambda: server.messages("scheduler process started"), "the scheduler")[0]
        pid = int(first["message"].split("pid ")[1].rstrip(")"))
        server.wait_for(lambda: server.messages("scheduler started"), "the scheduler's jobs")
        os.kill(pid, signal.SIGKILL)
        ended = server.wait_for(lambda: server.messages("scheduler process (pid"), "the master to notice")
        assert f"(pid {pid}) ended" in ended[0]["message"] and ended[0]["level"] == "ERROR"
        again = server.wait_for(
            lambda: server.messages("scheduler process started")[1:], "a new scheduler process"
        )[0]
        assert (_at(again) - _at(ended[0])).total_seconds() >= 0.9  # after the back-off's first second
        second = int(again["message"].split("pid ")[1].rstrip(")"))
        server.wait_for(lambda: len(server.messages("scheduler started")) >= 2, "its jobs")
        server.proc.kill()  # no hook of the master runs: the scheduler must notice by itself
        deadline = time.monotonic() + 10
        while not _gone(second):
            assert time.monotonic() < deadline, "the scheduler outlived the killed server by 10 s"
            time.sleep(0.05)
    finally:
        _end(template, server)
    assert server.messages("the server process")[0]["level"] == "WARNING"
