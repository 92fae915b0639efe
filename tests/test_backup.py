"""Encrypted backups: a restore gives the same answers on either engine; a damaged file stores nothing."""

from __future__ import annotations

import base64
import io
import json
import secrets
import stat
import zlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import DATA_KEY, Json, _make_app, add_event, fresh_pg_database, open_case, pg_unavailable

from tracker.auth.users import Actor
from tracker.cli import cli
from tracker.crypto.stream import SealedWriter, open_chunks, read_header
from tracker.migrate import upgrade
from tracker.services.backup import BackupError, backed_up_tables, restore_backup, write_backup
from tracker.services.erasure import erase_case

ADMIN = Actor("ada", "admin")
NAME = "Yevgeny Arkadievich Tumanov"


def populate(app: Any, api_for: Any) -> tuple[dict[str, Json], list[str]]:
    """Users of three roles, two cases (one erased) with deadlines, a correction, access and audit records."""
    users = {
        "ada": api_for(app, "admin", "ada"),
        "anna": api_for(app, "caseworker", "anna"),
        "otto": api_for(app, "auditor", "otto"),
    }
    admin = users["ada"]
    soon = (date.today() + timedelta(days=20)).isoformat()
    one = open_case(admin, "Yevgeny", legal_name=NAME)
    add_event(admin, one, "caseworker_assigned", "2023-01-05", {"username": "anna"})
    add_event(admin, one, "fled_country", "2023-01-04", {"from_country": "RU", "to_country": "KZ"})
    stay = add_event(
        admin,
        one,
        "stay_permitted",
        "2023-01-06",
        {"country": "KZ", "kind": "visa_free", "valid_until": soon},
    )
    add_event(
        admin,
        one,
        "event_corrected",
        "2023-01-07",
        {
            "event_id": stay["id"],
            "data": {"country": "KZ", "kind": "registration", "valid_until": soon},
            "reason": "typo",
        },
    )
    add_event(admin, one, "contact_details_changed", "2023-02-01", {"phone": "+7 700 000 11 22"})
    two = open_case(admin, "Sparrow", legal_name="Erased Person")
    add_event(admin, two, "reminder_set", "2023-03-01", {"title": "call back", "due_on": soon})
    erase_case(app.extensions["tracker"], ADMIN, two, "emergency")
    return users, [one, two]


def answers(app: Any, users: dict[str, Json], cases: list[str]) -> dict[str, Any]:
    """What each user gets from the API, by path."""
    out: dict[str, Any] = {}
    for name, api in users.items():
        client = Json(app.test_client(), api.token)
        paths = ["/cases", "/deadlines?within_days=365", "/cases?status=open"]
        for case in cases:
            paths += [
                f"/cases/{case}",
                f"/cases/{case}/events",
                f"/cases/{case}/deadlines?include_closed=true",
            ]
            paths += [f"/cases/{case}?as_of=2023-01-06"]
        for path in paths:
            route, _, query = path.partition("?")
            params = dict(p.split("=") for p in query.split("&")) if query else {}
            r = client.get(route, **params)
            out[f"{name} {path}"] = (r.status_code, r.get_json())
    return out


def target_url(engine: str, tmp_path: Path) -> str:
    if engine == "postgres":
        reason = pg_unavailable()
        if reason:
            pytest.skip(reason)
        return fresh_pg_database()
    url = f"sqlite:///{tmp_path / 'restored.db'}"
    upgrade(url)
    return url


def row_counts(rt: Any) -> dict[str, int]:
    with rt.db.read() as session:
        return {
            t.name: session.scalar(sa.select(sa.func.count()).select_from(t)) or 0 for t in backed_up_tables()
        }


@pytest.mark.parametrize("target", ["sqlite", "postgres"])
def test_a_restored_backup_answers_the_api_exactly_like_the_original(
    app: Any, rt: Any, api_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    users, cases = populate(app, api_for)
    before = answers(app, users, cases)
    assert NAME in str(before["ada /cases/" + cases[0] + "/events"])
    out = tmp_path / "tracker.backup"
    result = app.test_cli_runner().invoke(cli, ["backup", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert NAME.encode() not in out.read_bytes() and b"events" not in out.read_bytes()

    restored = _make_app(target_url(target, tmp_path), tmp_path, monkeypatch)
    result = restored.test_cli_runner().invoke(cli, ["restore", str(out)])
    assert result.exit_code == 0, result.output
    after = answers(restored, users, cases)  # the same tokens work: users and tokens came back
    assert after == before
    rt2 = restored.extensions["tracker"]
    assert restored.test_cli_runner().invoke(cli, ["verify"]).exit_code == 0

    # The restored database keeps working: new events, users, tokens and audit records get fresh ids.
    event = add_event(
        Json(restored.test_client(), users["ada"].token), cases[0], "contact_made", "2023-03-01", {}
    )
    assert event["version"] == 7
    api_for(restored, "supervisor", "sam")
    with rt2.db.read() as session:
        actions = [r[0] for r in session.execute(sa.text("SELECT action FROM audit_log ORDER BY id"))]
    assert actions == ["erasure", "restore"]  # the backup's own record comes after its snapshot
    rt2.db.dispose()


def test_damaged_truncated_or_foreign_backups_are_refused_and_store_nothing(
    app: Any, rt: Any, api_for: Any, engine_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(app, api_for)
    buffer = io.BytesIO()
    write_backup(rt, ADMIN, buffer, chunk_size=256)  # small chunks: many of them to cut and shuffle
    good = buffer.getvalue()
    header_end = good.index(b"\n") + 1
    assert len(good) > header_end + 4 * 256

    target = _make_app(target_url(engine_name, tmp_path), tmp_path, monkeypatch)
    rt2 = target.extensions["tracker"]
    empty = row_counts(rt2)
    assert set(empty.values()) == {0}

    def flipped(at: int) -> bytes:
        return good[:at] + bytes([good[at] ^ 0x01]) + good[at + 1 :]

    record = 4 + 256 + 16  # length prefix, then a full chunk's ciphertext and tag
    first_chunk = good[header_end : header_end + record]
    middle = header_end + (len(good) - header_end) // record // 2 * record + 4 + 100
    bad = {
        "flip in magic": (flipped(3), "not a tracker backup"),
        # A flipped salt digit may stop being a hex digit, which damages the header instead.
        "flip in salt": (flipped(header_end - 10), "altered|header is damaged"),
        "flip in first length": (flipped(header_end), "impossible length"),
        "flip in first chunk": (flipped(header_end + 40), "chunk 1 was altered"),
        "flip in the middle": (flipped(middle), "altered"),
        "flip of last byte": (flipped(len(good) - 1), "altered"),
        "cut by one byte": (good[:-1], "truncated"),
        "cut in half": (good[: len(good) // 2], "truncated"),
        "cut after the first chunk": (good[: header_end + len(first_chunk)], "truncated"),
        "first chunk twice": (good[:header_end] + first_chunk + good[header_end:], "altered"),
        "bytes appended": (good + b"\x00", "after its end"),
        "not a backup": (b"PRAGMA foreign_keys=OFF;\n", "not a tracker backup"),
        "empty file": (b"", "not a tracker backup"),
    }
    for label, (data, message) in bad.items():
        with pytest.raises(BackupError, match=message):
            restore_backup(rt2, ADMIN, io.BytesIO(data))
        assert row_counts(rt2) == empty, label

    path = tmp_path / "tampered.backup"
    path.write_bytes(flipped(len(good) // 3))
    result = target.test_cli_runner().invoke(cli, ["restore", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].endswith("nothing was restored")

    restore_backup(rt2, ADMIN, io.BytesIO(good))  # the intact file restores
    assert row_counts(rt2)["events"] == row_counts(rt)["events"]
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(rt2, ADMIN, io.BytesIO(good))
    rt2.db.dispose()


def test_a_backup_needs_its_installation_key_and_an_old_one_still_opens_it(
    sqlite_app: Any, api_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = sqlite_app.extensions["tracker"]
    users, cases = populate(sqlite_app, api_for)
    buffer = io.BytesIO()
    write_backup(rt, ADMIN, buffer)
    other_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()

    stranger = _make_app(target_url("sqlite", tmp_path), tmp_path, monkeypatch, DATA_KEY=other_key)
    with pytest.raises(
        BackupError, match=r"sealed under installation key \w+, which is neither TRACKER_DATA_KEY"
    ):
        restore_backup(stranger.extensions["tracker"], ADMIN, io.BytesIO(buffer.getvalue()))
    assert set(row_counts(stranger.extensions["tracker"]).values()) == {0}
    stranger.extensions["tracker"].db.dispose()

    (tmp_path / "restored.db").unlink()
    rotated = _make_app(
        target_url("sqlite", tmp_path), tmp_path, monkeypatch, DATA_KEY=other_key, OLD_DATA_KEYS=DATA_KEY
    )
    restore_backup(rotated.extensions["tracker"], ADMIN, io.BytesIO(buffer.getvalue()))
    assert rotated.test_cli_runner().invoke(cli, ["keys", "rotate"]).exit_code == 0
    client = Json(rotated.test_client(), users["ada"].token)
    assert client.get(f"/cases/{cases[0]}/events").get_json()["events"][0]["data"]["legal_name"] == NAME
    rotated.extensions["tracker"].db.dispose()


def test_restore_needs_a_migrated_database(
    sqlite_app: Any, empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = io.BytesIO()
    write_backup(sqlite_app.extensions["tracker"], ADMIN, buffer)
    bare = _make_app(empty_db_url, tmp_path, monkeypatch)
    with pytest.raises(BackupError, match="run `tracker db upgrade`"):
        restore_backup(bare.extensions["tracker"], ADMIN, io.BytesIO(buffer.getvalue()))
    bare.extensions["tracker"].db.dispose()


def reseal(data: bytes, kek: bytes, kek_id: str, change: Any) -> bytes:
    """The backup's plain lines passed through `change`, sealed again with the right key."""
    fh = io.BytesIO(data)
    header = read_header(fh)
    plain = zlib.decompress(b"".join(open_chunks(fh, header, kek)), 31)
    lines = [json.loads(line) for line in plain.splitlines()]
    out = io.BytesIO()
    writer = SealedWriter(out, kek, kek_id)
    writer.write(zlib.compress(b"".join(json.dumps(x).encode() + b"\n" for x in change(lines)), wbits=31))
    writer.close()
    return out.getvalue()


def test_a_backup_sealed_with_the_right_key_but_a_broken_chain_is_refused(
    sqlite_app: Any, api_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = sqlite_app.extensions["tracker"]
    populate(sqlite_app, api_for)
    buffer = io.BytesIO()
    write_backup(rt, ADMIN, buffer)

    def rewrite_history(lines: list[Any]) -> list[Any]:
        columns: list[str] = []
        for item in lines:
            if isinstance(item, dict) and item.get("table"):
                columns = item["columns"]
            elif isinstance(item, list) and "recorded_by" in columns and item[columns.index("version")] == 3:
                item[columns.index("recorded_by")] = "mallory"
        return lines

    unchanged = reseal(buffer.getvalue(), rt.kek, rt.kek_id, lambda lines: lines)
    forged = reseal(buffer.getvalue(), rt.kek, rt.kek_id, rewrite_history)
    target = _make_app(target_url("sqlite", tmp_path), tmp_path, monkeypatch)
    rt2 = target.extensions["tracker"]
    with pytest.raises(BackupError, match="in the backup is broken: the hash of version 3 does not match"):
        restore_backup(rt2, ADMIN, io.BytesIO(forged))
    assert set(row_counts(rt2).values()) == {0}
    restore_backup(rt2, ADMIN, io.BytesIO(unchanged))  # the re-sealing itself is sound
    assert row_counts(rt2)["events"] == row_counts(rt)["events"]
    rt2.db.dispose()


@pytest.mark.parametrize("command", ["backup", "export"])
def test_a_leftover_part_file_does_not_lend_its_mode_to_the_output(
    sqlite_app: Any, api_for: Any, tmp_path: Path, command: str
) -> None:
    open_case(api_for(sqlite_app, "admin"), legal_name="Ivan Example")
    output = tmp_path / f"{command}.out"
    leftover = output.with_name(output.name + ".part")
    leftover.write_bytes(b"an interrupted run" * 1000)
    leftover.chmod(0o644)
    result = sqlite_app.test_cli_runner().invoke(cli, [command, "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert b"an interrupted run" not in output.read_bytes()
    assert not leftover.exists()
