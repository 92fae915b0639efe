"""The real `tracker` console script, run as a subprocess on SQLite files."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tracker import create_app
from tracker.auth.users import create_user, issue_token
from tracker.db import Database
from tracker.migrate import upgrade
from tracker.services.demo import DEMO_FILES

TRACKER = Path(sys.executable).with_name("tracker")
DATA = Path(__file__).parent / "data"
KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
PASSWORD = "correct-horse-battery-staple"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Cli:
    """The console script against one SQLite file, and the same database seen in-process."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.db = folder / "tracker.db"
        self.url = f"sqlite:///{self.db}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "FLASK_"))}
        self.env.update(
            TRACKER_DATABASE_URL=self.url,
            TRACKER_DATA_KEY=KEY,
            TRACKER_SECRET_KEY="cli-test-secret",
            TRACKER_INSTANCE_PATH=str(folder / "instance"),
        )

    def run(self, *args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(TRACKER), *args], input=input, capture_output=True, text=True, env={**self.env, **env},
            timeout=120, check=False,
        )  # fmt: skip

    def ok(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        proc = self.run(*args, input=input)
        assert proc.returncode == 0, f"tracker {' '.join(args)}: {proc.stderr}"
        return proc

    def migrate_with_users(self, **users: str) -> None:
        """A migrated database with users (in-process: faster than one subprocess each)."""
        upgrade(self.url)
        db = Database(self.url)
        with db.write() as session:
            for name, role in users.items():
                create_user(session, name, role, PASSWORD)
        db.dispose()

    def scalar(self, sql: str) -> Any:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql).fetchone()[0]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "main")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A factory: api(cli, username, token=None) -> get(path), from an in-process app on cli's database."""
    apps: list[Any] = []

    def make(cli: Cli, username: str, token: str | None = None) -> Any:
        monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(cli.folder / "instance"))
        app = create_app({"DATABASE_URL": cli.url, "DATA_KEY": KEY, "SECRET_KEY": "cli-test-secret"})
        apps.append(app)
        if token is None:
            with app.extensions["tracker"].db.write() as session:
                token = issue_token(session, username)
        client = app.test_client()
        return lambda path: client.get("/api/v1" + path, headers={"Authorization": f"Bearer {token}"})

    yield make
    for app in apps:
        app.extensions["tracker"].db.dispose()


def cases_by_pseudonym(get: Any) -> dict[str, str]:
    return {c["pseudonym"]: c["id"] for c in get("/cases?limit=500").get_json()["cases"]}


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    return lines[-1]


def test_db_upgrade_user_create_and_token(cli: Cli, api: Any) -> None:
    assert "database at" in cli.ok("db", "upgrade").stdout
    cli.ok("db", "upgrade")  # harmless on an up-to-date database
    cli.ok("user", "create", "anna", "--role", "caseworker", "--password-stdin", input=PASSWORD + "\n")
    token = max(cli.ok("user", "token", "anna").stdout.split(), key=len)
    assert cli.scalar("SELECT password_hash FROM users WHERE username = 'anna'").startswith("$argon2id$")
    with sqlite3.connect(cli.db) as conn:
        stored = [str(v) for row in conn.execute("SELECT * FROM api_tokens") for v in row]
    assert stored and not any(token[4:20] in v for v in stored), "the token is stored in clear"
    get = api(cli, "anna", token)
    assert get("/cases").status_code == 200
    assert get("/cases").get_json() == {"cases": [], "next_cursor": None}


def test_import_examples_verify_and_erase(cli: Cli, api: Any) -> None:
    cli.migrate_with_users(anna="caseworker", ada="admin")
    for name in ("yevgeny.jsonl", "sportsmaster.jsonl"):
        assert "imported 1 cases" in cli.ok("import", str(DATA / name)).stdout
    get = api(cli, "ada")
    cases = cases_by_pseudonym(get)
    assert set(cases) == {"Yevgeny", "Sportsmaster"}
    sports = get(f"/cases/{cases['Sportsmaster']}").get_json()["status"]
    assert sports["caseworkers"] == ["anna"]
    assert sports["criminal_cases"][0]["next_hearing_on"] == "2023-05-15"  # "#9" was resolved
    assert "2 cases verified" in cli.ok("verify").stdout

    out = cli.ok("erase", cases["Yevgeny"], "--reason", "client asked").stdout
    assert cases["Yevgeny"] in out
    cli.ok("verify")
    events = get(f"/cases/{cases['Yevgeny']}/events").get_json()["events"]
    assert events[-1]["type"] == "personal_data_erased"
    assert "[erased]" in json.dumps([e["data"] for e in events])


def bad_files() -> list[tuple[str, str, tuple[str, ...]]]:
    good = (DATA / "yevgeny.jsonl").read_text().strip()
    sports = json.loads((DATA / "sportsmaster.jsonl").read_text())
    wrong_country = json.loads(json.dumps(sports))
    wrong_country["events"][4]["data"]["to_country"] = "Kazakhstan"
    wrong_ref = json.loads(json.dumps(sports))
    wrong_ref["events"][8]["data"]["criminal_case"] = "#99"
    two_lines = json.loads(json.dumps(sports))
    two_lines["case"]["pseudonym"] = "Sportsmaster\nBcc: eve@example.net"
    return [
        ("newline", f"{good}\n{json.dumps(two_lines)}\n", ("line 2", "case.pseudonym", "one line")),
        ("field", f"{good}\n{json.dumps(wrong_country)}\n", ("line 2", "to_country")),
        ("reference", f"{good}\n\n{json.dumps(wrong_ref)}\n", ("line 3", "criminal_case")),
        ("json", f"{good}\n{{not json\n", ("line 2", "JSON")),
        ("deep", f"{good}\n{'[' * 100_000}\n", ("line 2", "JSON")),
        # Python refuses to read integers of more than 4,300 digits, with a ValueError of its own.
        ("huge-number", f'{good}\n{{"case": {"9" * 5000}}}\n', ("line 2", "JSON")),
    ]


@pytest.mark.parametrize(("content", "words"), [b[1:] for b in bad_files()], ids=[b[0] for b in bad_files()])
def test_an_import_with_a_bad_line_stores_nothing_and_names_it(
    cli: Cli, content: str, words: tuple[str, ...]
) -> None:
    cli.migrate_with_users(anna="caseworker")
    path = cli.folder / "bad.jsonl"
    path.write_text(content)
    message = one_line_error(cli.run("import", str(path)))
    assert all(w in message for w in words), message
    for table in ("events", "case_status", "case_keys", "deadlines"):
        assert cli.scalar(f"SELECT count(*) FROM {table}") == 0, table


def normalized(value: Any) -> Any:
    """An answer with ids replaced, so two imports of the same story compare equal."""
    return json.loads(UUID.sub("<id>", json.dumps(value, sort_keys=True)))


def test_export_then_import_round_trips_every_status(cli: Cli, tmp_path: Path, api: Any) -> None:
    cli.migrate_with_users(anna="caseworker", ada="admin")
    both = cli.folder / "all.jsonl"
    files = ("yevgeny.jsonl", "sportsmaster.jsonl", "corrections.jsonl")
    both.write_text("".join((DATA / n).read_text() for n in files))
    cli.ok("import", str(both))
    exported = cli.folder / "export.jsonl"
    cli.ok("export", "-o", str(exported))
    assert len(exported.read_text().splitlines()) == 3
    assert "Placeholder Name" in exported.read_text()  # sensitive fields travel with an export

    copy = Cli(tmp_path / "copy")
    copy.migrate_with_users(anna="caseworker", ada="admin")
    copy.ok("import", str(exported))
    original, imported = api(cli, "ada"), api(copy, "ada")
    first, second = cases_by_pseudonym(original), cases_by_pseudonym(imported)
    assert set(first) == set(second) == {"Yevgeny", "Sportsmaster", "Sparrow"}
    for name in first:
        a = original(f"/cases/{first[name]}").get_json()
        b = imported(f"/cases/{second[name]}").get_json()
        assert normalized(a) == normalized(b), name
        events = [original(f"/cases/{first[name]}/events"), imported(f"/cases/{second[name]}/events")]
        stories = [[(e["type"], e["occurred_on"], e["data"]) for e in r.get_json()["events"]] for r in events]
        assert normalized(stories[0]) == normalized(stories[1]), name
    sparrow = imported(f"/cases/{second['Sparrow']}").get_json()["status"]
    assert sparrow["state"] == "closed" and not sparrow["detained"]
    assert [c["max_sentence_years"] for c in sparrow["criminal_cases"]] == [None, 15]


def test_verify_names_a_case_whose_stored_event_was_changed(cli: Cli, api: Any) -> None:
    cli.migrate_with_users(anna="caseworker")
    for name in ("yevgeny.jsonl", "sportsmaster.jsonl"):
        cli.ok("import", str(DATA / name))
    cli.ok("verify")
    tampered = cli.scalar("SELECT case_id FROM events WHERE data LIKE '%Yevgeny%'")
    other = cli.scalar(f"SELECT case_id FROM events WHERE case_id != '{tampered}'")
    with sqlite3.connect(cli.db) as conn:
        trigger = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events_no_update'").fetchone()[0]
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute(
            "UPDATE events SET occurred_on = '2022-01-01' WHERE case_id = ? AND version = 5", (tampered,)
        )
        conn.execute(trigger)
    proc = cli.run("verify")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert tampered in proc.stderr and other not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    assert "version 5" in proc.stderr


def test_each_demo_file_holds_the_client_it_is_named_after() -> None:
    for name in DEMO_FILES:
        lines = resources.files("tracker.demo").joinpath(name).read_text(encoding="utf-8").splitlines()
        pseudonyms = [json.loads(line)["case"]["pseudonym"] for line in lines if line.strip()]
        assert pseudonyms == [name.removesuffix(".jsonl").capitalize()], name


def test_demo_is_idempotent_recent_and_survives_a_rebuild_byte_for_byte(cli: Cli, api: Any) -> None:
    upgrade(cli.url)
    first = cli.ok("demo", "--password", PASSWORD).stdout
    assert "demo cases imported: 4" in first  # the four composite clients
    counts = [cli.scalar(f"SELECT count(*) FROM {t}") for t in ("users", "case_status", "events")]
    assert "demo cases imported: 0" in cli.ok("demo", "--password", PASSWORD).stdout
    assert [cli.scalar(f"SELECT count(*) FROM {t}") for t in ("users", "case_status", "events")] == counts
    newest = cli.scalar("SELECT max(occurred_on) FROM events")
    assert newest == (datetime.now(UTC).date() - timedelta(days=3)).isoformat()
    assert cli.scalar("SELECT count(DISTINCT username) FROM users") == 5

    get = api(cli, "ada")
    demo_cases = cases_by_pseudonym(get)
    assert set(demo_cases) == {"Yevgeny", "Farhad", "Sparrow", "Sportsmaster"}  # domain.md's four clients
    ids = sorted(demo_cases.values())
    assert len(ids) == 4
    paths = [f"/cases/{i}{suffix}" for i in ids for suffix in ("", "/deadlines?include_closed=true")]
    before = {p: get(p).get_data() for p in paths}
    assert "rebuilt 4 cases" in cli.ok("rebuild").stdout
    assert {p: get(p).get_data() for p in paths} == before


def user_errors(tmp: Path) -> list[tuple[str, list[str], dict[str, str], str | None, tuple[str, ...]]]:
    not_json = tmp / "not.jsonl"
    missing_case = str(uuid.uuid4())
    return [
        ("bad-role", ["user", "create", "x1", "--role", "wizard", "--password-stdin"], {}, PASSWORD,
         ("wizard",)),
        ("duplicate", ["user", "create", "anna", "--role", "admin", "--password-stdin"], {}, PASSWORD,
         ("anna",)),
        ("short-password", ["user", "create", "bob", "--role", "admin", "--password-stdin"], {}, "short",
         ("password",)),
        ("unknown-user", ["user", "token", "nobody"], {}, None, ("nobody",)),
        ("missing-file", ["import", str(tmp / "missing.jsonl")], {}, None, ("missing.jsonl",)),
        ("not-json", ["import", str(not_json)], {}, None, ("line 1",)),
        ("unknown-case", ["erase", missing_case, "--reason", "x"], {}, None, (missing_case,)),
        ("bad-revision", ["db", "downgrade", "nonsense"], {}, None, ("nonsense",)),
        ("export-nowhere", ["export", "-o", str(tmp / "no" / "such.jsonl")], {}, None, ("such.jsonl",)),
        ("bad-key", ["verify"], {"TRACKER_DATA_KEY": "short"}, None, ("TRACKER_DATA_KEY",)),
        ("bad-url", ["verify"], {"TRACKER_DATABASE_URL": "not a url"}, None, ("TRACKER_DATABASE_URL",)),
        ("unknown-engine", ["db", "upgrade"], {"TRACKER_DATABASE_URL": "bogus://x"}, None,
         ("TRACKER_DATABASE_URL",)),
        ("missing-driver", ["serve"], {"TRACKER_DATABASE_URL": "postgresql://u@127.0.0.1/x"}, None,
         ("postgresql+psycopg",)),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def error_cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    cli = Cli(tmp_path_factory.mktemp("errors"))
    cli.migrate_with_users(anna="caseworker")
    (cli.folder / "not.jsonl").write_text("this is not JSON\n")
    return cli


@pytest.mark.parametrize("index", range(13), ids=[e[0] for e in user_errors(Path("/nowhere"))])
def test_user_errors_are_one_line_on_stderr_without_a_traceback(error_cli: Cli, index: int) -> None:
    _name, args, env, stdin, words = user_errors(error_cli.folder)[index]
    proc = error_cli.run(*args, input=None if stdin is None else stdin + "\n", **env)
    last = one_line_error(proc)
    assert all(w in last for w in words), proc.stderr
    usage = proc.returncode == 2
    assert usage or len([line for line in proc.stderr.splitlines() if line.strip()]) == 1, proc.stderr
    assert error_cli.scalar("SELECT count(*) FROM users") == 1


BAD_RULES = '[[appeal_periods]]\ncountry = "FR"\nperiod = "1 fortnight"\nsource = "counsel"\n'


@pytest.mark.parametrize(
    ("program", "args", "through"),
    [
        ("tracker", ["scheduler", "--once"], "env"),
        ("tracker", ["serve", "--port", "1"], "env"),
        ("tracker", ["scheduler", "--once"], "config"),
        ("flask", ["--app", "tracker", "scheduler", "--once"], "env"),
        ("flask", ["--app", "tracker", "run"], "config"),
    ],
    ids=["scheduler", "serve", "scheduler-config", "flask-scheduler", "flask-run-config"],
)
def test_a_bad_rules_file_stops_start_up_with_one_line(
    error_cli: Cli, program: str, args: list[str], through: str
) -> None:
    rules = error_cli.folder / "org-rules.toml"
    rules.write_text(BAD_RULES, encoding="utf-8")
    settings = error_cli.folder / "settings.toml"
    settings.write_text(f"DEADLINE_RULES = {str(rules)!r}\n", encoding="utf-8")
    env = {"TRACKER_DEADLINE_RULES": str(rules)} if through == "env" else {"TRACKER_CONFIG": str(settings)}
    proc = subprocess.run(
        [str(TRACKER.with_name(program)), *args], capture_output=True, text=True,
        env={**error_cli.env, **env}, timeout=120, check=False,
    )  # fmt: skip
    last = one_line_error(proc)
    assert [line for line in proc.stderr.splitlines() if line.strip()] == [last], proc.stderr
    assert "org-rules.toml: appeal_periods[1] (FR): period" in last and "fortnight" in last, last


def on_a_terminal(cli: Cli, *args: str) -> str:
    """Run a command with stderr on a pseudo-terminal, as a person at a shell would; what stderr showed."""
    import pty

    main, side = pty.openpty()
    try:
        proc = subprocess.run(
            [str(TRACKER), *args], stdout=subprocess.PIPE, stderr=side, env=cli.env, timeout=120, check=False
        )
        os.close(side)
        shown = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal is closed once everything written to it was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main)
    assert proc.returncode == 0, shown
    return shown.decode(errors="replace")


def test_long_commands_show_progress_on_a_terminal_and_stay_quiet_otherwise(cli: Cli, tmp_path: Path) -> None:
    cli.migrate_with_users(anna="caseworker")
    for name in ("yevgeny.jsonl", "sportsmaster.jsonl"):
        shown = on_a_terminal(cli, "import", str(DATA / name))
        assert "importing" in shown and "100%" in shown
    assert "exporting" in on_a_terminal(cli, "export", "-o", str(tmp_path / "all.jsonl"))
    assert "verifying" in on_a_terminal(cli, "verify")
    assert "rebuilding" in on_a_terminal(cli, "rebuild")
    # Without a terminal (scripts, logs, cron) nothing but the result is written.
    assert cli.ok("verify").stderr == ""
