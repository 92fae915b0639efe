"""Erasure that no copy undoes: not the database's files or WAL, not an older backup, on both engines."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import DATA_KEY, Json, _make_app, fresh_pg_database, open_case

from tracker.auth.users import Actor
from tracker.cli import cli
from tracker.config import decode_data_key
from tracker.crypto.codec import CryptoError, unwrap_case_key, wrap_case_key
from tracker.crypto.keyring import Keyring
from tracker.services.erasure import erase_cases
from tracker.store.tables import CaseKeyRow, EventRow

NAME = "Zinovy Quartermaine-Ostrakova"
OTHER = "Somebody Else Entirely"
KEK = decode_data_key(DATA_KEY, "test key")
WRAPPED = 60  # nonce, key, tag


def run(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(cli, list(args))


def wal_start(rt: Any) -> str | None:
    """The WAL file being written now (PostgreSQL): the scan reads it and every later one."""
    if rt.db.sqlite:
        return None
    with rt.db.engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT pg_walfile_name(pg_current_wal_lsn())")).scalar())


def database_files(rt: Any, since_wal: str | None) -> list[Path]:
    """Every file the database keeps this database in: table files and WAL (PostgreSQL, read as the
    server's owner would), or the SQLite file and its WAL."""
    if rt.db.sqlite:
        db = Path(sa.make_url(rt.db.url).database or "")
        near = (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal"))
        return [p for p in near if p.exists()]
    with rt.db.engine.connect() as conn:
        folder = Path(str(conn.execute(sa.text("SHOW data_directory")).scalar()))
        oid = conn.execute(sa.text("SELECT oid FROM pg_database WHERE datname = current_database()")).scalar()
    tables, wal = folder / "base" / str(oid), folder / "pg_wal"
    if not (os.access(tables, os.R_OK | os.X_OK) and os.access(wal, os.R_OK | os.X_OK)):
        pytest.skip(f"the PostgreSQL data directory {folder} is not readable here (run as its owner)")
    first = (since_wal or "")[8:]  # after the timeline: the segment number
    files = [p for p in tables.iterdir() if p.is_file()]
    files += [p for p in wal.iterdir() if p.is_file() and len(p.name) == 24 and p.name[8:] >= first]
    return files


def candidates(raw: bytes, case_id: str) -> tuple[set[bytes], set[bytes]]:
    """Blobs shaped like a wrapped key: (every 60 bytes starting within 300 bytes of the case id, as
    a row keeps its columns together in a table page, a WAL record or a full-page image; and every
    60 bytes after a 60-byte bytea header anywhere, PostgreSQL's short varlena byte 0x7b)."""
    near: set[bytes] = set()
    needle = case_id.encode()
    at = raw.find(needle)
    while at != -1:
        near.update(raw[start : start + WRAPPED] for start in range(max(0, at - 300), at + 300))
        at = raw.find(needle, at + 1)
    anywhere: set[bytes] = set()
    at = raw.find(b"\x7b")
    while at != -1:
        anywhere.add(raw[at + 1 : at + 1 + WRAPPED])
        at = raw.find(b"\x7b", at + 1)
    return {c for c in near if len(c) == WRAPPED}, {c for c in anywhere if len(c) == WRAPPED} - near


def keyrings(instance: Path) -> list[Keyring]:
    """Every keyring found in the instance folder (the current one and any leftover)."""
    rings = []
    for path in instance.rglob("*"):
        if path.is_file() and path.read_bytes().startswith(b"TRACKER-KEYRING"):
            rings.append(Keyring.loads(path.read_bytes(), str(path)))
    return rings


def wrapping_keys(instance: Path, case_id: str) -> tuple[list[bytes], list[bytes]]:
    """Keys that exist and might open the case's key: (the installation key itself, for keys from
    before keyrings, and the case's wrapping key if any keyring still derives it; and, as a long
    shot, each node of every keyring taken as if it were the case's leaf)."""
    keys, long_shots = [KEK], []
    for ring in keyrings(instance):
        with contextlib.suppress(CryptoError):
            keys.append(ring.wrapping_key(KEK, case_id))
        long_shots += [ring.wrapping_key_from_leaf(KEK, node) for node in ring.nodes.values()]
    return keys, long_shots


def opened(files: Iterable[Path], case_id: str, instance: Path) -> list[tuple[str, bytes]]:
    """(file, key) of every copy of the case's key that a key that exists opens. Blobs near the case
    id are tried with every key and long shot; blobs anywhere else with the keys."""
    keys, long_shots = wrapping_keys(instance, case_id)
    found = []
    for path in files:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:  # a WAL file removed by a checkpoint meanwhile holds nothing any more
            continue
        near, anywhere = candidates(raw, case_id)
        tries = [(blob, key) for blob in near for key in keys + long_shots]
        tries += [(blob, key) for blob in anywhere for key in keys]
        for blob, key in tries:
            try:
                found.append((path.name, unwrap_case_key(key, case_id, blob)))
            except CryptoError:
                continue
    return found


def test_after_erase_no_file_or_wal_of_the_database_holds_a_key_that_anything_left_opens(
    app: Any, rt: Any, api_for: Any, tmp_path: Path
) -> None:
    since = wal_start(rt)
    admin = api_for(app, "admin")
    case = open_case(admin, "Sparrow", legal_name=NAME)
    other = open_case(admin, "Farhad", legal_name=OTHER)
    with rt.db.read() as session:
        key = rt.case_key(session, case)
    instance = tmp_path / "instance"

    # Before: the scan finds the key and opens it with what exists (so the check below can fail). On
    # PostgreSQL the row is put into the table files first: in the WAL alone a page header can fall
    # inside the key's bytes, and the scan would then miss it.
    if not rt.db.sqlite:
        with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")
    before = opened(database_files(rt, since), case, instance)
    assert before and all(k == key for _f, k in before)
    old_root = keyrings(instance)[0].nodes[(0, 0)]

    result = run(app, "erase", case, "--reason", "emergency")
    assert result.exit_code == 0, result.output
    assert "to finish" not in result.output, result.output  # erase ran VACUUM FULL and CHECKPOINT itself

    assert opened(database_files(rt, since), case, instance) == []
    assert all(ring.leaf(case) is None for ring in keyrings(instance))
    for path in instance.rglob("*"):  # the keyring's old content was overwritten, not just unlinked
        assert old_root.hex().encode() not in path.read_bytes(), path
    # The other case still opens, with the same key row as before: nothing was re-wrapped.
    names = admin.get(f"/cases/{other}/events").get_json()["events"][0]["data"]["legal_name"]
    assert names == OTHER
    assert admin.get(f"/cases/{case}/events").get_json()["events"][0]["data"]["legal_name"] == "[erased]"


def test_erasing_many_cases_at_once_changes_the_keyring_once_and_rewraps_nothing(
    app: Any, rt: Any, api_for: Any
) -> None:
    admin = api_for(app, "admin")
    cases = [open_case(admin, f"Client {n}", legal_name=f"Name {n}") for n in range(5)]
    with rt.db.read() as session:
        rows_before = {r.case_id: r.wrapped for r in session.scalars(sa.select(CaseKeyRow))}
    path = rt.keyring_file.path
    inode = path.stat().st_ino

    result = run(app, "erase", *cases[:3], "--reason", "three at once")
    assert result.exit_code == 0, result.output
    assert result.output.count("erased (version") == 3

    assert path.stat().st_ino != inode  # replaced ...
    ring = rt.keyring_file.current()
    assert ring is not None and sorted(ring.erased) == sorted(cases[:3])
    # ... once, for all three: one more write would have left a .new or a second replacement behind.
    assert not path.with_name(path.name + ".new").exists()
    with rt.db.read() as session:
        rows_after = {r.case_id: r.wrapped for r in session.scalars(sa.select(CaseKeyRow))}
    assert rows_after == {c: rows_before[c] for c in cases[3:]}
    for n, case in enumerate(cases):
        name = admin.get(f"/cases/{case}/events").get_json()["events"][0]["data"]["legal_name"]
        assert name == ("[erased]" if n < 3 else f"Name {n}")

    # All or none: one case already erased among new ones refuses them all and stores nothing.
    again = run(app, "erase", cases[3], cases[0], "--reason", "again")
    assert again.exit_code == 1 and "already erased" in again.output and "Traceback" not in again.output
    assert admin.get(f"/cases/{cases[3]}/events").get_json()["events"][0]["data"]["legal_name"] == "Name 3"


def _target(engine_name: str, tmp_path: Path, name: str) -> str:
    if engine_name == "postgres":
        return fresh_pg_database()
    from tracker.migrate import upgrade

    url = f"sqlite:///{tmp_path / name}"
    upgrade(url)
    return url


def test_a_restore_of_an_older_backup_brings_a_later_erased_case_back_erased_and_says_so(
    app: Any, rt: Any, api_for: Any, engine_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = api_for(app, "admin")
    case = open_case(admin, "Sparrow", legal_name=NAME)
    kept = open_case(admin, "Farhad", legal_name=OTHER)
    backup = tmp_path / "before.backup"
    assert run(app, "backup", "-o", str(backup)).exit_code == 0
    assert run(app, "erase", case, "--reason", "emergency").exit_code == 0

    # Into a new database, by the same installation (same key, same instance folder and keyring).
    restored = _make_app(_target(engine_name, tmp_path, "restored.db"), tmp_path, monkeypatch)
    result = run(restored, "restore", str(backup))
    assert result.exit_code == 0, result.output
    assert "1 cases were erased after this backup was made and came back erased" in result.output
    assert case in result.output and kept not in result.output

    api = Json(restored.test_client(), admin.token)
    events = api.get(f"/cases/{case}/events").get_json()["events"]
    assert events[0]["data"]["legal_name"] == "[erased]"
    assert events[-1]["type"] == "personal_data_erased"
    assert "after the restored backup was made" in events[-1]["data"]["reason"]
    assert api.get(f"/cases/{case}").get_json()["status"]["pseudonym"] == "Sparrow"
    assert api.get(f"/cases/{kept}/events").get_json()["events"][0]["data"]["legal_name"] == OTHER
    rt2 = restored.extensions["tracker"]
    with rt2.db.read() as session:
        assert session.get(CaseKeyRow, case) is None
    assert run(restored, "verify").exit_code == 0
    rt2.db.dispose()


def test_a_backup_restored_without_its_keyring_is_refused_and_stores_nothing(
    app: Any, api_for: Any, engine_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = api_for(app, "admin")
    open_case(admin, "Sparrow", legal_name=NAME)
    backup = tmp_path / "b.backup"
    assert run(app, "backup", "-o", str(backup)).exit_code == 0

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stranger = _make_app(_target(engine_name, tmp_path, "other.db"), elsewhere, monkeypatch)
    result = run(stranger, "restore", str(backup))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "keyring" in result.output and "nothing was restored" in result.output
    with stranger.extensions["tracker"].db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(EventRow)) == 0
    stranger.extensions["tracker"].db.dispose()


def test_a_key_from_before_keyrings_erased_after_a_backup_comes_back_erased_by_the_ledger(
    app: Any, rt: Any, api_for: Any, engine_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = api_for(app, "admin")
    case = open_case(admin, "Sparrow", legal_name=NAME)
    with rt.db.write() as session:  # as a key stored before the upgrade to keyrings was
        row = session.get(CaseKeyRow, case)
        key = rt.case_key(session, case)
        row.wrapped, row.keyring = wrap_case_key(KEK, case, key), None
    backup = tmp_path / "legacy.backup"
    assert run(app, "backup", "-o", str(backup)).exit_code == 0
    done = erase_cases(rt, Actor("ada", "admin"), [case], "emergency")
    assert any("before keyrings" in note and "rotated" in note for note in done.notes)

    restored = _make_app(_target(engine_name, tmp_path, "restored.db"), tmp_path, monkeypatch)
    result = run(restored, "restore", str(backup))
    assert result.exit_code == 0 and "came back erased" in result.output and case in result.output
    api = Json(restored.test_client(), admin.token)
    assert api.get(f"/cases/{case}/events").get_json()["events"][0]["data"]["legal_name"] == "[erased]"
    restored.extensions["tracker"].db.dispose()


def test_erase_in_a_process_without_the_keyring_is_refused_and_changes_nothing(
    app: Any, api_for: Any, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = api_for(app, "admin")
    case = open_case(admin, "Sparrow", legal_name=NAME)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lost = _make_app(db_url, elsewhere, monkeypatch)
    result = run(lost, "erase", case, "--reason", "emergency")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "which is not at" in result.output
    assert admin.get(f"/cases/{case}/events").get_json()["events"][0]["data"]["legal_name"] == NAME
    lost.extensions["tracker"].db.dispose()


def test_a_keyring_that_cannot_be_written_makes_erase_say_so_and_rotation_finishes_it(
    app: Any, rt: Any, api_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.crypto.keyring import KeyringFile

    admin = api_for(app, "admin")
    case = open_case(admin, "Sparrow", legal_name=NAME)

    def full(self: Any, ring: Any) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(KeyringFile, "_write", full)
        result = run(app, "erase", case, "--reason", "emergency")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "erased (version" in result.output
    assert "could not be written (No space left on device)" in result.output
    assert "tracker keys rotate" in result.output
    assert rt.keyring_file.current().leaf(case) is not None  # what the message warns of
    assert admin.get(f"/cases/{case}/events").get_json()["events"][0]["data"]["legal_name"] == "[erased]"

    assert run(app, "keys", "rotate").exit_code == 0
    assert rt.keyring_file.current().leaf(case) is None


def test_on_postgresql_a_reader_holding_the_key_table_makes_erase_print_the_vacuum_to_run(
    app: Any, rt: Any, api_for: Any, engine_name: str
) -> None:
    if engine_name != "postgres":
        pytest.skip("VACUUM FULL is PostgreSQL's")
    admin = api_for(app, "admin")
    case = open_case(admin, "Sparrow", legal_name=NAME)
    with rt.db.engine.connect() as reader:
        reader.execute(sa.text("SELECT count(*) FROM case_keys")).scalar()  # holds its lock until the end
        result = run(app, "erase", case, "--reason", "emergency")
    assert result.exit_code == 0, result.output
    assert "to finish: run `VACUUM (FULL) case_keys;`" in result.output
    assert rt.keyring_file.current().leaf(case) is None  # the erasure itself is final all the same
