"""`tracker info` says where everything is, without making anything; `tracker --version`."""

from __future__ import annotations

import base64
import os
import secrets
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import cli
from tracker.config import key_fingerprint
from tracker.deadlines.rules import DEFAULT_RULES_PATH
from tracker.migrate import head_revision

KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key in list(os.environ):
        if key.startswith(("TRACKER_", "FLASK_")) and key != "TRACKER_TEST_DATABASE_URL":
            monkeypatch.delenv(key)
    folder = tmp_path / "instance"
    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(folder))
    return folder


def info(**variables: str) -> dict[str, str]:
    result = CliRunner().invoke(cli, ["info"], env={f"TRACKER_{k}": v for k, v in variables.items()})
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.output.splitlines():
        name, _, value = line.partition("  ")
        rows[name.strip()] = value.strip()
    return rows


def test_version_comes_from_the_installed_metadata() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"tracker {metadata.version('tracker')}\n"
    assert info()["version"] == metadata.version("tracker")


def test_before_the_first_start_info_shows_where_things_will_be_and_makes_nothing(instance: Path) -> None:
    rows = info()
    assert rows["instance folder"] == f"{instance} (not made yet)"
    assert rows["database"] == f"sqlite:///{instance}/tracker.db"
    assert rows["data key"] == f"none yet: made in {instance}/data_key on first start (SQLite only)"
    assert (
        rows["migrations"]
        == f"no database file yet (`tracker db upgrade` makes it); head {head_revision('')}"
    )
    assert rows["rules files"] == str(DEFAULT_RULES_PATH)
    assert rows["attachments"] == f"{instance}/attachments (not made yet)"
    assert info(ATTACHMENTS_PATH="/srv/files")["attachments"] == "/srv/files (not made yet)"
    assert not instance.exists()


def test_after_an_upgrade_info_shows_the_key_source_the_migrations_and_the_fingerprint(
    instance: Path, tmp_path: Path
) -> None:
    assert CliRunner().invoke(cli, ["db", "upgrade"]).exit_code == 0
    rows = info()
    head = head_revision("")
    assert rows["migrations"] == f"current {head}, head {head}"
    assert rows["data key"].startswith(f"generated file {instance}/data_key (SQLite only), fingerprint ")
    assert rows["installation key"].startswith("no fingerprint stored yet")
    assert CliRunner().invoke(cli, ["rebuild"]).exit_code == 0  # a writer stores its key's fingerprint
    stored = key_fingerprint(base64.urlsafe_b64decode((instance / "data_key").read_text()))
    assert info()["installation key"] == f"fingerprint {stored} (matches the data key)"

    rules = tmp_path / "ours.toml"
    rules.write_text("")
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    rows = info(DEADLINE_RULES=str(rules), DATA_KEY_FILE=str(key_file))
    assert rows["rules files"] == f"{DEFAULT_RULES_PATH}, {rules}"
    new = key_fingerprint(base64.urlsafe_b64decode(KEY))
    assert rows["data key"] == f"key file {key_file} (DATA_KEY_FILE), fingerprint {new}"
    assert rows["installation key"].startswith(f"fingerprint {stored}: MISMATCH")
    assert info(DATA_KEY=KEY)["data key"].startswith("TRACKER_DATA_KEY, fingerprint ")
    assert info(DEADLINE_RULES=str(tmp_path / "gone.toml"))["rules files"].endswith("gone.toml (MISSING)")


def test_a_postgresql_password_is_never_shown_and_a_missing_key_or_server_is_reported(
    instance: Path,
) -> None:
    rows = info(DATABASE_URL="postgresql+psycopg://tracker:s3cret-pw@127.0.0.1:1/tracker")
    assert rows["database"] == "postgresql+psycopg://tracker:***@127.0.0.1:1/tracker"
    assert "s3cret-pw" not in "".join(rows.values())
    assert rows["data key"].startswith("NONE: no data key: on PostgreSQL the tracker never makes one")
    assert rows["migrations"].startswith("database unreachable (")
    assert not instance.exists()


def test_a_broken_configuration_is_one_line_and_a_non_zero_exit(instance: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("PAGE_SIZE = [")
    result = CliRunner().invoke(cli, ["info"], env={"TRACKER_CONFIG": str(bad)})
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: configuration file {bad} is not valid TOML")
    assert len(result.output.strip().splitlines()) == 1
