"""The wheel, installed into a fresh venv outside the checkout, runs the whole life of an installation:
version, info, migrations, the demo, a real server one signs in to, a scheduler pass and verify, on
SQLite (in the default instance folder) and on PostgreSQL."""

from __future__ import annotations

import base64
import re
import secrets
import subprocess
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from alertkit import free_port
from conftest import fresh_pg_database, pg_unavailable
from wheelkit import CHECKOUT, Browser, Installed, Server, clean_env, installed_fixture, run  # noqa: F401

from tracker.migrate import head_revision

pytestmark = pytest.mark.slow
KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
CASE_LINK = re.compile(r'href="/cases/([0-9a-f-]{36})"')


def test_the_wheel_holds_everything_read_at_run_time(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for needed in (
        "tracker/defaults/tracker.toml",
        "tracker/defaults/deadlines.toml",
        "tracker/migrations/env.py",
        "tracker/migrations/script.py.mako",
        "tracker/templates/cases/case.html",
        "tracker/web/static/style.css",
        "tracker/translations/ru/LC_MESSAGES/messages.mo",
        "tracker/demo/sparrow.jsonl",
        "tracker/dossier/fonts/DejaVuSans.ttf",
        "tracker/dossier/fonts/DejaVuSans-Bold.ttf",
        "tracker/dossier/fonts/LICENSE",
    ):
        assert needed in names, needed
    migrations = sorted((CHECKOUT / "tracker" / "migrations" / "versions").glob("*.py"))
    assert migrations and all(f"tracker/migrations/versions/{m.name}" in names for m in migrations)
    assert not [n for n in names if n.startswith(("tests/", "docs/", "bench/", "scripts/"))]


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_an_installed_wheel_runs_the_tracker_with_nothing_of_the_checkout(
    installed: Installed, tmp_path: Path, engine: str
) -> None:
    if engine == "postgres":
        reason = pg_unavailable()
        if reason:
            pytest.skip(reason)
        variables = {"TRACKER_DATABASE_URL": fresh_pg_database(migrated=False), "TRACKER_DATA_KEY": KEY}
    else:
        variables = {}  # everything by default: the instance folder is the platform's user data folder
    work = tmp_path / "elsewhere"
    work.mkdir()
    home = tmp_path / "home"
    env = clean_env(home, **variables)

    def ok(*args: str) -> str:
        proc = run(installed, work, env, *args)
        assert proc.returncode == 0, f"tracker {' '.join(args)}: {proc.stdout}{proc.stderr}"
        return proc.stdout

    where = subprocess.run(
        [str(installed.python), "-c", "import tracker; print(tracker.__file__)"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert Path(where.strip()).is_relative_to(installed.venv)
    assert not Path(where.strip()).is_relative_to(CHECKOUT)

    assert ok("--version") == f"tracker {metadata.version('tracker')}\n"
    head = head_revision("")
    assert f"database at {head}" in ok("db", "upgrade")
    info = ok("info")
    instance = home / ".local" / "share" / "tracker"
    if engine == "sqlite":
        assert f"instance folder   {instance}\n" in info
        assert f"database          sqlite:///{instance}/tracker.db\n" in info
    else:
        assert "data key          TRACKER_DATA_KEY, fingerprint " in info
    assert f"migrations        current {head}, head {head}\n" in info
    rules = re.search(r"rules files\s+(\S+)", info)
    assert rules and Path(rules.group(1)).is_relative_to(installed.venv), info
    assert str(CHECKOUT) not in info

    assert "demo cases imported: 4" in ok("demo", "--password", "wheel-password-2024")

    server = Server(installed, work, env, free_port(), "--workers", "1")
    try:
        server.wait_healthy()
        browser = Browser(server.base)
        page = browser.sign_in("anna", "wheel-password-2024")
        assert 'action="/logout"' in page and 'action="/login"' not in page, page[-2000:]
        status, listing = browser.get("/cases")
        assert status == 200, listing
        case_ids = CASE_LINK.findall(listing)
        assert case_ids, listing[-2000:]
        status, case_page = browser.get(f"/cases/{case_ids[0]}")
        assert status == 200, case_page
        assert any(name in case_page for name in ("Sparrow", "Farhad", "Yevgeny", "Sportsmaster"))
        status, _css = browser.get("/assets/style.css")
        assert status == 200
        status, russian = Browser(server.base).get("/login?lang=ru")  # the compiled translations
        assert status == 200 and "Войти" in russian
    finally:
        server.stop()
    assert "Traceback" not in server.output()

    assert "alerts created" in ok("scheduler", "--once")
    assert "4 cases verified: every chain is intact" in ok("verify")
    # The dossier's fonts come from the package: a Russian dossier is written with nothing of the checkout.
    assert "facts, head hash " in ok("dossier", case_ids[0], "-o", str(work / "d.pdf"), "--lang", "ru")
    assert (work / "d.pdf").read_bytes().startswith(b"%PDF-")
    if engine == "sqlite":
        assert sorted(p.name for p in instance.iterdir() if p.name.endswith("_key")) == [
            "data_key",
            "secret_key",
        ]
    assert not (CHECKOUT / "build").exists()
