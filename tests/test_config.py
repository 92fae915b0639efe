"""Configuration: config/tracker.toml, a TRACKER_CONFIG file over it, TRACKER_* variables over both,
and the instance secrets made on first run (owner-only files, reused on the next start)."""

from __future__ import annotations

import base64
import os
import re
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import open_case

from tracker import config, create_app
from tracker.cli import cli
from tracker.config import ConfigError, load_settings
from tracker.migrate import upgrade

DEFAULTS = tomllib.loads(config.DEFAULTS_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No TRACKER_* variable of the calling shell leaks into these tests."""
    for key in list(os.environ):
        if key.startswith("TRACKER_"):
            monkeypatch.delenv(key)
    return monkeypatch


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- layering ---------------------------------------------------------------------------------------


def test_without_anything_else_the_settings_are_the_checked_in_defaults(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings == DEFAULTS
    # The defaults themselves: secrets and database are left empty, to be generated / derived.
    assert settings["SECRET_KEY"] == settings["DATA_KEY"] == settings["DATABASE_URL"] == ""
    assert isinstance(settings["PAGE_SIZE"], int) and settings["PAGE_SIZE"] >= 1


def test_a_tracker_config_file_overrides_only_the_keys_it_names(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    extra = write(tmp_path / "site.toml", 'PAGE_SIZE = 20\nMAIL_FROM = "cases@example.org"\n')
    env.setenv("TRACKER_CONFIG", str(extra))
    settings = load_settings()
    assert settings["PAGE_SIZE"] == 20
    assert settings["MAIL_FROM"] == "cases@example.org"
    untouched = {k: v for k, v in settings.items() if k not in ("PAGE_SIZE", "MAIL_FROM")}
    assert untouched == {k: v for k, v in DEFAULTS.items() if k not in ("PAGE_SIZE", "MAIL_FROM")}


def test_environment_variables_win_over_the_config_file_and_test_overrides_over_both(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    extra = write(tmp_path / "site.toml", 'PAGE_SIZE = 20\nBASE_URL = "https://file.example"\n')
    env.setenv("TRACKER_CONFIG", str(extra))
    env.setenv("TRACKER_PAGE_SIZE", "30")
    env.setenv("TRACKER_SMTP_URL", "smtp://mail.example:2525")
    settings = load_settings()
    assert settings["PAGE_SIZE"] == 30  # environment over file
    assert settings["BASE_URL"] == "https://file.example"  # file over defaults
    assert settings["SMTP_URL"] == "smtp://mail.example:2525"  # environment over defaults
    assert load_settings({"PAGE_SIZE": 40})["PAGE_SIZE"] == 40  # the app factory's overrides last


def test_variables_that_name_no_setting_are_ignored(env: pytest.MonkeyPatch) -> None:
    env.setenv("TRACKER_NO_SUCH_SETTING", "1")
    env.setenv("TRACKER_INSTANCE_PATH", "/somewhere")  # read by instance_path(), not a setting
    settings = load_settings()
    assert "NO_SUCH_SETTING" not in settings and "INSTANCE_PATH" not in settings


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("NO_SUCH_SETTING = 1\n", "unknown setting 'NO_SUCH_SETTING'"),
        ("PAGE_SIZE = \n", "is not valid TOML"),
        ("PAGE_SIZE = 0\n", "PAGE_SIZE must be a positive whole number"),
        ('SERVE_WORKERS = "two"\n', "SERVE_WORKERS must be a positive whole number"),
    ],
)
def test_a_bad_config_file_is_refused_naming_the_file_or_setting(
    env: pytest.MonkeyPatch, tmp_path: Path, content: str, expected: str
) -> None:
    extra = write(tmp_path / "site.toml", content)
    env.setenv("TRACKER_CONFIG", str(extra))
    with pytest.raises(ConfigError, match=expected):
        load_settings()


def test_a_missing_config_file_is_refused_naming_it(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("TRACKER_CONFIG", str(tmp_path / "nowhere.toml"))
    with pytest.raises(ConfigError, match=re.escape(f"not found: {tmp_path / 'nowhere.toml'}")):
        load_settings()


def test_an_empty_tracker_config_means_no_extra_file(env: pytest.MonkeyPatch) -> None:
    env.setenv("TRACKER_CONFIG", "")
    assert load_settings() == DEFAULTS


# --- type coercion of TRACKER_* ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("PAGE_SIZE", "25", 25),
        ("SESSION_IDLE_MINUTES", " 90 ", 90),
        ("TRUSTED_PROXIES", "0", 0),
        ("SIGNIN_WINDOW_SECONDS", "60", 60),
        ("SMTP_URL", "smtp://127.0.0.1:25", "smtp://127.0.0.1:25"),
        ("LOG_LEVEL", "DEBUG", "DEBUG"),
        ("DATABASE_URL", "sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        # A string setting keeps its text as written, digits included.
        ("METRICS_TOKEN", "12345", "12345"),
    ],
)
def test_variables_take_the_type_of_the_setting_they_override(
    env: pytest.MonkeyPatch, key: str, raw: str, value: Any
) -> None:
    env.setenv(f"TRACKER_{key}", raw)
    got = load_settings()[key]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("PAGE_SIZE", "many", "TRACKER_PAGE_SIZE must be a whole number"),
        ("SIGNIN_WINDOW_SECONDS", "1.5", "TRACKER_SIGNIN_WINDOW_SECONDS must be a whole number"),
        ("SERVE_WORKERS", "", "TRACKER_SERVE_WORKERS must be a whole number"),
        ("PAGE_SIZE", "0", "PAGE_SIZE must be a positive whole number"),
        ("SIGNIN_MAX_ATTEMPTS", "-3", "SIGNIN_MAX_ATTEMPTS must be a positive whole number"),
    ],
)
def test_a_variable_of_the_wrong_type_is_refused_naming_it(
    env: pytest.MonkeyPatch, key: str, raw: str, expected: str
) -> None:
    env.setenv(f"TRACKER_{key}", raw)
    with pytest.raises(ConfigError, match=expected):
        load_settings()


def test_boolean_settings_take_the_usual_spellings(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No checked-in setting is a boolean yet; defaults that have one are read the same way.
    required = "".join(f"{k} = 1\n" for k in ("SESSION_IDLE_MINUTES", "SIGNIN_MAX_ATTEMPTS", "PAGE_SIZE",
                                               "SERVE_WORKERS"))  # fmt: skip
    defaults = write(tmp_path / "tracker.toml", 'FEATURE = false\nTIME_ZONE = "UTC"\n' + required)
    env.setattr(config, "DEFAULTS_PATH", defaults)
    assert load_settings()["FEATURE"] is False
    for raw, value in [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False),
                       ("False", False), ("no", False), ("OFF", False)]:  # fmt: skip
        env.setenv("TRACKER_FEATURE", raw)
        assert load_settings()["FEATURE"] is value, raw
    env.setenv("TRACKER_FEATURE", "maybe")
    with pytest.raises(ConfigError, match="TRACKER_FEATURE must be true or false"):
        load_settings()


# --- instance secrets -------------------------------------------------------------------------------


@pytest.fixture
def instance(env: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str) -> Path:
    """An instance folder that does not exist yet, and a migrated database; no keys configured."""
    folder = tmp_path / "fresh" / "instance"
    env.setenv("TRACKER_INSTANCE_PATH", str(folder))
    env.setenv("TRACKER_DATABASE_URL", sqlite_url)
    return folder


@pytest.fixture
def started() -> Iterator[Any]:
    """A factory: started() -> create_app(), disposed of at the end."""
    apps: list[Any] = []

    def start() -> Any:
        app = create_app()
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.extensions["tracker"].db.dispose()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_makes_owner_only_secrets_and_the_next_start_reuses_them(
    instance: Path, started: Any, api_for: Any
) -> None:
    old_umask = os.umask(0)  # the file mode must not depend on the umask of whoever starts the tracker
    try:
        first = started()
    finally:
        os.umask(old_umask)
    secret_file, key_file = instance / "secret_key", instance / "data_key"
    assert sorted(p.name for p in instance.iterdir() if p.name.endswith("_key")) == ["data_key", "secret_key"]
    assert mode(secret_file) == mode(key_file) == 0o600
    secret = secret_file.read_text().strip()
    data_key = base64.urlsafe_b64decode(key_file.read_text().strip())
    assert len(secret) >= 32 and len(data_key) == 32
    assert first.config["SECRET_KEY"] == secret
    assert first.extensions["tracker"].kek == data_key
    assert first.config["DATA_KEY"] is None  # the key stays out of the Flask config (templates, logs)

    # A sensitive field written under the generated key ...
    admin = api_for(first, "admin")
    case_id = open_case(admin, legal_name="Ivan Secretov")
    files_before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (secret_file, key_file)}

    # ... is read back after a restart, which takes the same secrets from the same files.
    second = started()
    assert second.config["SECRET_KEY"] == secret
    assert second.extensions["tracker"].kek == data_key
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (secret_file, key_file)} == files_before
    admin.client = second.test_client()
    events = admin.get(f"/cases/{case_id}/events").get_json()["events"]
    assert events[0]["data"]["legal_name"] == "Ivan Secretov"


def test_two_instance_folders_get_different_secrets(
    env: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str, started: Any
) -> None:
    env.setenv("TRACKER_DATABASE_URL", sqlite_url)
    made = []
    for name in ("one", "two"):
        env.setenv("TRACKER_INSTANCE_PATH", str(tmp_path / name))
        app = started()
        made.append((app.config["SECRET_KEY"], app.extensions["tracker"].kek))
    assert made[0][0] != made[1][0] and made[0][1] != made[1][1]


def test_configured_secrets_are_used_and_nothing_is_written(
    instance: Path, env: pytest.MonkeyPatch, started: Any
) -> None:
    key = base64.urlsafe_b64encode(bytes(range(32))).decode()
    env.setenv("TRACKER_SECRET_KEY", "from-the-environment")
    env.setenv("TRACKER_DATA_KEY", key.rstrip("="))  # padding may be left off
    app = started()
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.extensions["tracker"].kek == bytes(range(32))
    assert not (instance / "secret_key").exists() and not (instance / "data_key").exists()


def test_without_a_database_url_the_database_is_a_file_in_the_instance_folder(
    env: pytest.MonkeyPatch, tmp_path: Path, started: Any
) -> None:
    folder = tmp_path / "inst"
    env.setenv("TRACKER_INSTANCE_PATH", str(folder))
    app = started()
    assert app.config["DATABASE_URL"] == f"sqlite:///{folder.resolve() / 'tracker.db'}"


@pytest.mark.parametrize(
    ("content", "expected"), [("not base64 !!\n", "not URL-safe base64"), ("c2hvcnQ=\n", "32 bytes, not 5")]
)
def test_a_damaged_data_key_file_stops_start_up_naming_the_file(
    instance: Path, started: Any, content: str, expected: str
) -> None:
    instance.mkdir(parents=True)
    write(instance / "data_key", content)
    with pytest.raises(ConfigError, match=f"data_key.*{expected}"):
        started()
    assert (instance / "data_key").read_text() == content  # never silently replaced by a new key


def test_a_bad_data_key_variable_stops_start_up_naming_it(
    instance: Path, env: pytest.MonkeyPatch, started: Any
) -> None:
    env.setenv("TRACKER_DATA_KEY", "short")
    with pytest.raises(ConfigError, match="TRACKER_DATA_KEY"):
        started()
    assert not (instance / "data_key").exists()


def test_the_instance_folder_and_a_new_sqlite_database_are_open_to_their_owner_only(
    env: pytest.MonkeyPatch, tmp_path: Path, started: Any
) -> None:
    folder = tmp_path / "new" / "instance"
    env.setenv("TRACKER_INSTANCE_PATH", str(folder))
    old_umask = os.umask(0o022)  # the usual umask: SQLite and mkdir alone would give 0644 and 0755
    try:
        app = started()
        database = folder / "tracker.db"
        assert mode(folder) == 0o700
        result = app.test_cli_runner().invoke(cli, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        with app.extensions["tracker"].db.write() as session:
            session.execute(sa.text("SELECT 1"))
        assert database.exists() and mode(database) == 0o600
        for name in ("tracker.db-wal", "tracker.db-shm"):
            if (folder / name).exists():
                assert mode(folder / name) == 0o600, name
        # Straight through the migrations, as the tests do, too.
        other = tmp_path / "other.db"
        upgrade(f"sqlite:///{other}")
        assert mode(other) == 0o600
    finally:
        os.umask(old_umask)


def test_postgresql_without_its_driver_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # An SQLite-only installation (`pip install tracker`, no [postgres] extra) has no psycopg.
    import sys

    from tracker.db import make_engine

    for name in [m for m in sys.modules if m == "psycopg" or m.startswith("psycopg.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigError) as caught:
        make_engine("postgresql+psycopg://tracker@127.0.0.1:5432/tracker")
    assert str(caught.value) == (
        "PostgreSQL needs the psycopg driver, which is not installed: install the tracker with its "
        "postgres extra (pip install 'tracker[postgres]')"
    )
