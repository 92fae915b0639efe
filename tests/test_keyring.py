"""The keyring: punctured leaves derive from nothing left, every other leaf as before; its file."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import DATA_KEY, _make_app, open_case

from tracker.auth.users import Actor
from tracker.cli import cli
from tracker.config import decode_data_key
from tracker.crypto.codec import CryptoError, wrap_case_key
from tracker.crypto.keyring import DEPTH, Keyring, KeyringFile
from tracker.migrate import downgrade, upgrade
from tracker.services import keys
from tracker.store.tables import CaseKeyRow

KEK = decode_data_key(DATA_KEY, "test key")


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def test_a_punctured_leaf_is_gone_and_every_other_leaf_derives_as_before() -> None:
    ring = Keyring.new()
    cases = ids(200)
    before = {c: ring.leaf(c) for c in cases}
    gone = cases[:20]
    for c in gone:
        assert ring.puncture(c, "2026-12-08T00:00:00+00:00")
    assert not ring.puncture(gone[0], "later")  # once is enough
    for c in cases:
        assert ring.leaf(c) == (None if c in gone else before[c])
        if c in gone:
            with pytest.raises(CryptoError, match="destroyed by erasure"):
                ring.wrapping_key(KEK, c)
    # No node left derives a punctured leaf: none lies on its path.
    from tracker.crypto.keyring import leaf_path

    for c in gone:
        path = leaf_path(c)
        assert not any(prefix == path >> (DEPTH - depth) for depth, prefix in ring.nodes)
    # About DEPTH nodes more per erasure, fewer as paths share their top.
    assert len(ring.nodes) <= 1 + 20 * DEPTH
    assert sorted(ring.erased) == sorted(gone)


def test_the_wrapping_key_needs_both_the_installation_key_and_the_leaf() -> None:
    ring, other = Keyring.new(), Keyring.new()
    case = ids(1)[0]
    assert ring.wrapping_key(KEK, case) != ring.wrapping_key(os.urandom(32), case)
    assert ring.wrapping_key(KEK, case) != other.wrapping_key(KEK, case)
    assert ring.wrapping_key(KEK, case) != KEK


def test_the_file_round_trips_and_a_damaged_or_cut_file_is_refused(tmp_path: Path) -> None:
    ring = Keyring.new()
    for c in ids(3):
        ring.puncture(c, "2026-12-08T00:00:00+00:00")
    raw = ring.dumps()
    again = Keyring.loads(raw, "x")
    assert (again.id, again.nodes, again.erased) == (ring.id, ring.nodes, ring.erased)
    for bad in (raw[:-40], raw.replace(b"node 1", b"node 99", 1), b"\0" * len(raw), b"hello\n"):
        with pytest.raises(CryptoError, match="damaged or cut short"):
            Keyring.loads(bad, "x")


def test_a_write_cut_off_before_the_rename_is_finished_by_the_next_change(tmp_path: Path) -> None:
    path = tmp_path / "instance" / "keyring"
    store = KeyringFile(path)
    first = store.create(lambda: None)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    case = ids(1)[0]
    # As if the process died after writing .new and shredding the old file, before the rename.
    punctured = Keyring.loads(first.dumps(), "copy")
    punctured.puncture(case, "now")
    path.with_name("keyring.new").write_bytes(punctured.dumps())
    path.write_bytes(b"\0" * path.stat().st_size)

    after = KeyringFile(path).update(lambda ring: False)
    assert after is not None and after.leaf(case) is None and after.id == first.id
    assert not path.with_name("keyring.new").exists()


def test_a_process_without_the_keyring_refuses_to_make_a_new_one_over_a_database_that_has_one(
    app: Any, api_for: Any, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = api_for(app, "admin")
    open_case(admin, "Sparrow", legal_name="Someone")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lost = _make_app(db_url, elsewhere, monkeypatch)
    result = lost.test_cli_runner().invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "which is not at" in result.output and "no new keyring was made" in result.output
    rt = lost.extensions["tracker"]
    with pytest.raises(CryptoError, match=r"under keyring .* which is not at .*no new keyring was made"):
        rt.keyring()
    assert not rt.keyring_file.exists()
    rt.db.dispose()


def test_keys_from_before_keyrings_survive_the_migration_and_rotation_moves_them_under_the_keyring(
    app: Any, rt: Any, api_for: Any, db_url: str
) -> None:
    admin = api_for(app, "admin")
    names = {open_case(admin, f"Client {n}", legal_name=f"Name {n}"): f"Name {n}" for n in range(3)}
    with rt.db.write() as session:  # the keys as revision 0004 stored them
        for row in session.scalars(sa.select(CaseKeyRow)):
            key = rt.case_key(session, row.case_id)
            row.wrapped, row.keyring = wrap_case_key(KEK, row.case_id, key), None
    rt.db.dispose()
    downgrade(db_url, "0004")
    upgrade(db_url)

    def legal_names() -> dict[str, str]:
        events = {c: admin.get(f"/cases/{c}/events").get_json()["events"] for c in names}
        return {c: e[0]["data"]["legal_name"] for c, e in events.items()}

    assert legal_names() == names
    status = app.test_cli_runner().invoke(cli, ["keys", "status"])
    assert "3 case keys from before keyrings: run `tracker keys rotate`" in status.output
    assert keys.rotate(rt, Actor("ada", "admin")) == 3
    with rt.db.read() as session:
        rings = set(session.scalars(sa.select(CaseKeyRow.keyring)))
    assert rings == {rt.keyring_id}
    assert legal_names() == names


def test_the_downgrade_refuses_while_keys_are_under_a_keyring(app: Any, api_for: Any, db_url: str) -> None:
    open_case(api_for(app, "admin"), "Sparrow", legal_name="Someone")
    app.extensions["tracker"].db.dispose()
    with pytest.raises(RuntimeError, match="1 case keys are wrapped under a keyring"):
        downgrade(db_url, "0004")


def test_an_erasure_the_keyring_missed_is_reported_and_rotation_destroys_it(
    app: Any, rt: Any, api_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = api_for(app, "admin")
    case = open_case(admin, "Sparrow", legal_name="Someone")
    path = rt.keyring_file.path
    stale = path.read_bytes()
    assert app.test_cli_runner().invoke(cli, ["erase", case, "--reason", "emergency"]).exit_code == 0
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)  # as a host whose copy did not see the erasure
    os.write(fd, stale)
    os.close(fd)
    assert rt.keyring_file.current().leaf(case) is not None

    status = app.test_cli_runner().invoke(cli, ["keys", "status"])
    assert "1 erased cases are not yet destroyed in this keyring" in status.output
    assert app.test_cli_runner().invoke(cli, ["keys", "rotate"]).exit_code == 0
    assert rt.keyring_file.current().leaf(case) is None
    assert "not yet destroyed" not in app.test_cli_runner().invoke(cli, ["keys", "status"]).output


def test_the_keyring_can_live_apart_from_the_instance_folder(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.config import load_settings

    shared = tmp_path / "shared" / "tracker.keyring"
    monkeypatch.setenv("TRACKER_KEYRING_PATH", str(shared))
    assert load_settings()["KEYRING_PATH"] == str(shared)
    rt = _make_app(sqlite_url, tmp_path, monkeypatch, KEYRING_PATH=str(shared)).extensions["tracker"]
    assert rt.keyring_id and shared.exists() and not (tmp_path / "instance" / "keyring").exists()
    rt.db.dispose()
