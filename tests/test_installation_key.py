"""Keys on a shared database: none is made on PostgreSQL, and a key that is not the installation's is
refused by servers and by commands that write cases, naming both fingerprints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import DATA_KEY, _make_app, open_case

from tracker import create_app
from tracker.auth.users import Actor
from tracker.cli import cli
from tracker.config import ConfigError, key_fingerprint
from tracker.services import keys
from tracker.store.installation import InstallationKeyRow

OTHER_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
NO_SERVER = "postgresql+psycopg://tracker@127.0.0.1:1/tracker"  # never reached: the key is checked first


def fp(text: str) -> str:
    return key_fingerprint(base64.urlsafe_b64decode(text))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith(("TRACKER_", "FLASK_")) and key != "TRACKER_TEST_DATABASE_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("TRACKER_SECRET_KEY", "test-secret")
    return monkeypatch


def tracker(*args: str, **variables: str) -> Any:
    """The `tracker` command in this process, with these TRACKER_* variables on top of the fixture's."""
    return CliRunner().invoke(cli, list(args), env={f"TRACKER_{k}": v for k, v in variables.items()})


def stored(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.select(InstallationKeyRow.fingerprint))
    finally:
        engine.dispose()


def test_keys_generate_prints_a_new_32_byte_key_each_time() -> None:
    first, second = (CliRunner().invoke(cli, ["keys", "generate"]) for _ in range(2))
    assert first.exit_code == second.exit_code == 0
    assert len(base64.urlsafe_b64decode(first.output.strip())) == 32
    assert first.output != second.output


def test_on_postgresql_without_a_key_start_up_is_refused_in_one_line(env: pytest.MonkeyPatch) -> None:
    result = tracker("verify", DATABASE_URL=NO_SERVER)
    assert result.exit_code == 1
    message = result.output.strip()
    assert len(message.splitlines()) == 1, message
    assert "no data key" in message and "`tracker keys generate`" in message
    assert "TRACKER_DATA_KEY" in message and "Traceback" not in message
    assert not (Path(os.environ["TRACKER_INSTANCE_PATH"]) / "data_key").exists()  # none was made


def test_on_postgresql_a_key_an_earlier_version_made_is_not_used_but_pointed_to(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "data_key").write_text(OTHER_KEY + "\n")
    env.setenv("TRACKER_DATABASE_URL", NO_SERVER)
    with pytest.raises(ConfigError, match=f"no data key.*earlier version made is in {instance}/data_key"):
        create_app()


def test_a_key_file_named_by_the_configuration_is_used_and_a_missing_one_named(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key_file = tmp_path / "credentials" / "data_key"
    key_file.parent.mkdir()
    key_file.write_text(OTHER_KEY + "\n")
    env.setenv("TRACKER_DATABASE_URL", NO_SERVER)
    env.setenv("TRACKER_DATA_KEY_FILE", str(key_file))
    app = create_app()
    assert app.extensions["tracker"].kek == base64.urlsafe_b64decode(OTHER_KEY)
    assert app.config["DATA_KEY_SOURCE"] == f"key file {key_file} (DATA_KEY_FILE)"
    app.extensions["tracker"].db.dispose()

    env.setenv("TRACKER_DATA_KEY_FILE", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=f"DATA_KEY_FILE {tmp_path}/nowhere: No such file"):
        create_app()


def test_sqlite_still_makes_a_key_on_first_run(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    app = create_app()
    assert (tmp_path / "instance" / "data_key").exists()
    assert app.config["DATA_KEY_SOURCE"].startswith("generated file ")
    app.extensions["tracker"].db.dispose()


def test_the_first_writer_records_a_fingerprint_that_does_not_reveal_the_key(
    env: pytest.MonkeyPatch, db_url: str
) -> None:
    assert stored(db_url) is None
    result = tracker("demo", DATABASE_URL=db_url, DATA_KEY=DATA_KEY)
    assert result.exit_code == 0, result.output
    key = base64.urlsafe_b64decode(DATA_KEY)
    expected = hmac.new(key, b"tracker key fingerprint", hashlib.sha256).hexdigest()[:32]
    assert stored(db_url) == expected
    assert key.hex() not in expected and hashlib.sha256(key).hexdigest()[:32] != expected


def test_servers_and_writing_commands_refuse_another_key_naming_both_fingerprints(
    env: pytest.MonkeyPatch, db_url: str
) -> None:
    assert tracker("demo", DATABASE_URL=db_url, DATA_KEY=DATA_KEY).exit_code == 0
    for command in (["serve"], ["scheduler", "--once"], ["demo"], ["rebuild"], ["keys", "rotate"]):
        result = tracker(*command, DATABASE_URL=db_url, DATA_KEY=OTHER_KEY)
        assert result.exit_code == 1, (command, result.output)
        assert result.output.strip() == (
            f"Error: data key fingerprint mismatch: this database belongs to the installation key with "
            f"fingerprint {fp(DATA_KEY)}, but TRACKER_DATA_KEY has fingerprint {fp(OTHER_KEY)}; start with "
            "the installation's key (to change keys: the new one in TRACKER_DATA_KEY, the old one in "
            "TRACKER_OLD_DATA_KEYS, then `tracker keys rotate`)"
        ), command
    assert stored(db_url) == fp(DATA_KEY)  # unchanged
    # Reading commands still run, so the operator can look: the key's source and both fingerprints.
    info = tracker("info", DATABASE_URL=db_url, DATA_KEY=OTHER_KEY)
    assert info.exit_code == 0, info.output
    assert f"fingerprint {fp(OTHER_KEY)}" in info.output and "MISMATCH" in info.output
    assert fp(DATA_KEY) in info.output
    # The right key still starts.
    assert tracker("scheduler", "--once", DATABASE_URL=db_url, DATA_KEY=DATA_KEY).exit_code == 0


def test_a_database_from_before_fingerprints_is_not_claimed_by_a_stranger_key(
    env: pytest.MonkeyPatch, db_url: str, app: Any, api_for: Any
) -> None:
    open_case(api_for(app, "admin"))  # in-process: case keys under DATA_KEY, no fingerprint stored
    assert stored(db_url) is None
    result = tracker("rebuild", DATABASE_URL=db_url, DATA_KEY=OTHER_KEY)
    assert result.exit_code == 1
    assert "data key mismatch: the case keys in this database are wrapped under installation key" in (
        result.output
    )
    assert stored(db_url) is None
    assert tracker("rebuild", DATABASE_URL=db_url, DATA_KEY=DATA_KEY).exit_code == 0
    assert stored(db_url) == fp(DATA_KEY)


def test_while_rotating_the_old_fingerprint_is_accepted_and_rotation_records_the_new_one(
    env: pytest.MonkeyPatch, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tracker("demo", DATABASE_URL=db_url, DATA_KEY=DATA_KEY).exit_code == 0
    changing = {"DATABASE_URL": db_url, "DATA_KEY": OTHER_KEY, "OLD_DATA_KEYS": DATA_KEY}
    assert tracker("scheduler", "--once", **changing).exit_code == 0  # a server with both keys starts
    assert stored(db_url) == fp(DATA_KEY)
    result = tracker("keys", "rotate", **changing)
    assert result.exit_code == 0, result.output
    assert stored(db_url) == fp(OTHER_KEY)
    assert tracker("scheduler", "--once", DATABASE_URL=db_url, DATA_KEY=OTHER_KEY).exit_code == 0
    old_only = tracker("scheduler", "--once", DATABASE_URL=db_url, DATA_KEY=DATA_KEY)
    assert old_only.exit_code == 1 and f"fingerprint {fp(OTHER_KEY)}, but" in old_only.output

    # The service records it too, whoever calls it (here: with nothing left to re-wrap).
    app = _make_app(db_url, tmp_path, monkeypatch, DATA_KEY=DATA_KEY, OLD_DATA_KEYS=OTHER_KEY)
    rt = app.extensions["tracker"]
    waiting = keys.pending(rt)
    assert waiting > 0 and keys.rotate(rt, Actor("ada", "admin")) == waiting
    assert stored(db_url) == fp(DATA_KEY)
    rt.db.dispose()


def test_two_first_starts_at_once_agree_on_one_fingerprint(
    db_url: str, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.services import installation as service
    from tracker.store import installation as store

    # Another server stored its key's fingerprint between this one's read and its insert.
    rt = app.extensions["tracker"]
    with rt.db.write() as session:
        store.insert_fingerprint(session, fp(OTHER_KEY), rt.now())
    reads = iter([None])
    real = store.stored_fingerprint
    monkeypatch.setattr(store, "stored_fingerprint", lambda session: next(reads, real(session)))
    with pytest.raises(service.KeyMismatch, match=f"fingerprint {fp(OTHER_KEY)}, but TRACKER_DATA_KEY"):
        service.check_key(rt)
    assert stored(db_url) == fp(OTHER_KEY)


def test_a_server_without_the_keyring_of_the_database_refuses_to_start(
    env: pytest.MonkeyPatch, db_url: str, tmp_path: Path
) -> None:
    assert tracker("demo", DATABASE_URL=db_url, DATA_KEY=DATA_KEY).exit_code == 0
    elsewhere = tmp_path / "elsewhere" / "keyring"
    # `serve` runs the same check as these (the fingerprint test above shows it refusing)
    for command in (["scheduler", "--once"], ["demo"], ["rebuild"]):
        result = tracker(*command, DATABASE_URL=db_url, DATA_KEY=DATA_KEY, KEYRING_PATH=str(elsewhere))
        assert result.exit_code == 1, (command, result.output)
        message = result.output.strip()
        assert message.startswith("Error: the case keys of this database are under keyring "), message
        assert str(elsewhere) in message and "\n" not in message
    assert not elsewhere.exists()  # no second keyring was made beside the real one
    assert tracker("scheduler", "--once", DATABASE_URL=db_url, DATA_KEY=DATA_KEY).exit_code == 0
