"""Signed checkpoints: made, stored, listed, exported, mailed, checked without the tracker, and a witness's
copy naming every change made before it, even by someone who holds the keys."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from browser.webkit import sign_in, text
from corekit import new_case, record
from test_mail import Server
from test_tamper import ATTACKS, delete_case, delete_last, drop_triggers, rehash, story, swap

from tracker.cli import cli
from tracker.scheduler import jobs
from tracker.services import checkpoints, integrity
from tracker.store.seals import accumulate, event_seal, head_seal, store_seal

DOCS = Path(__file__).resolve().parents[1] / "docs" / "security.md"


def documented_command() -> str:
    """The stand-alone check of docs/security.md, exactly as written there."""
    doc = DOCS.read_text(encoding="utf-8")
    part = doc.split("### Checking a checkpoint without the tracker", 1)[1]
    match = re.search(r"```sh\n(.*?)```", part, re.S)
    assert match, "docs/security.md has no command under 'Checking a checkpoint without the tracker'"
    return match.group(1)


def run_documented(file: Path, public_key: str) -> subprocess.CompletedProcess:
    command = documented_command().replace("checkpoint.json", str(file)).replace("PUBLIC_KEY", public_key)
    # The witness's Python: any with `cryptography`; here the test's own, with the tracker out of reach.
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONSAFEPATH": "1"}
    return subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=env, cwd="/", check=False
    )


def test_a_checkpoint_is_stored_exported_and_checks_with_the_documented_command(
    app: Any, tmp_path: Path
) -> None:
    rt = app.extensions["tracker"]
    story(rt)
    runner = app.test_cli_runner()
    made = runner.invoke(cli, ["checkpoint"])
    assert made.exit_code == 0, made.output
    public_key = runner.invoke(cli, ["checkpoint", "key"]).output.strip()
    assert f"public key {public_key}" in made.output and "2 cases" in made.output
    file = tmp_path / "checkpoint.json"
    assert runner.invoke(cli, ["checkpoint", "export", "-o", str(file)]).exit_code == 0

    content = json.loads(json.loads(file.read_text())["statement"])
    assert content["cases"] == 2 and content["previous"] is None
    assert content["root"] == checkpoints.merkle_root(content["heads"])
    checked = run_documented(file, public_key)
    assert checked.returncode == 0 and checked.stdout.startswith("good signature:"), checked.stderr
    # A changed statement, or another key, fails the same command.
    doc = json.loads(file.read_text())
    doc["statement"] = doc["statement"].replace('"cases":2', '"cases":1')
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    assert run_documented(forged, public_key).returncode != 0
    assert run_documented(file, "00" * 32).returncode != 0

    # The next checkpoint links to this one; both are listed, newest first.
    second = checkpoints.make(rt)
    assert second.content["previous"] == checkpoints.listed(rt)[1].digest
    assert integrity.verify(rt)[1] == []
    assert runner.invoke(cli, ["verify", "--checkpoint", str(file)]).exit_code == 0
    bad = runner.invoke(cli, ["verify", "--checkpoint", str(forged)])
    assert bad.exit_code == 1 and "signature does not hold" in bad.output


def reseal_as_a_key_holder(rt: Any, conn: sa.Connection) -> None:
    """Someone with the installation key too recomputes every seal after changing rows."""
    key = rt.chain_key_for(rt.kek_id)
    conn.exec_driver_sql("DELETE FROM event_seals")
    conn.exec_driver_sql("DELETE FROM case_heads")
    conn.exec_driver_sql("DELETE FROM store_seal")
    rows = conn.execute(
        sa.text("SELECT id, case_id, version, hash FROM events ORDER BY case_id, version")
    ).all()
    newest: dict[str, Any] = {}
    for event_id, case_id, version, digest in rows:
        seal = event_seal(key, case_id, version, digest)
        conn.execute(
            sa.text("INSERT INTO event_seals VALUES (:e, :c, :v, :k, :s)"),
            {"e": event_id, "c": case_id, "v": version, "k": rt.kek_id, "s": seal},
        )
        newest[case_id] = (version, digest)
    for case_id, (version, digest) in newest.items():
        conn.execute(
            sa.text("INSERT INTO case_heads VALUES (:c, :v, :h, :k, :s)"),
            {"c": case_id, "v": version, "h": digest, "k": rt.kek_id,
             "s": head_seal(key, case_id, version, digest)},
        )  # fmt: skip
    acc = accumulate(newest)
    conn.execute(
        sa.text("INSERT INTO store_seal VALUES (1, :n, :a, :k, :s)"),
        {"n": len(newest), "a": acc, "k": rt.kek_id, "s": store_seal(key, len(newest), acc)},
    )


WITNESSED = {
    "changed payload": ("sparrow", r"an event at or before version 5 was changed"),
    "changed date": ("sparrow", r"an event at or before version 5 was changed"),
    "deleted last event": ("sparrow", r"versions 5 to 5 are gone"),
    "deleted whole case": ("farhad", r"the case was deleted"),
    "swapped events": ("sparrow", r"an event at or before version 5 was changed"),
}


@pytest.mark.parametrize("attack", list(WITNESSED))
def test_a_witness_copy_names_changes_made_with_every_key(app: Any, tmp_path: Path, attack: str) -> None:
    rt = app.extensions["tracker"]
    sparrow, farhad = story(rt)
    witness = tmp_path / "witness.json"
    witness.write_text(json.dumps(checkpoints.make(rt).export()))
    public_key = checkpoints.public_key_hex(rt)
    tamper = ATTACKS[attack][0]
    with rt.db.engine.begin() as conn:
        drop_triggers(conn)
        tamper(conn, sparrow, farhad)
        reseal_as_a_key_holder(rt, conn)
        conn.exec_driver_sql("DELETE FROM checkpoints")  # the stored copies go too
    # The keyed seals hold: only the witness's copy can tell.
    assert integrity.verify(rt)[1] == []

    result = app.test_cli_runner().invoke(
        cli, ["verify", "--checkpoint", str(witness), "--public-key", public_key]
    )

    where, pattern = WITNESSED[attack]
    named = {"sparrow": sparrow, "farhad": farhad}[where]
    assert result.exit_code == 1
    assert re.search(rf"case {named}: {pattern}", result.output), result.output


def test_the_latest_stored_checkpoint_names_a_case_deleted_whole(app: Any) -> None:
    rt = app.extensions["tracker"]
    sparrow, farhad = story(rt)
    checkpoints.make(rt)
    with rt.db.engine.begin() as conn:
        drop_triggers(conn)
        delete_case(conn, sparrow, farhad)
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER access_log_no_delete")
        else:
            conn.exec_driver_sql("DROP TRIGGER access_log_append_only ON access_log")
        conn.exec_driver_sql("DELETE FROM access_log")  # no other trace of the case is left
    broken = {b.case_id: b.problem for b in integrity.verify(rt)[1]}
    assert "the case was deleted" in broken[farhad]


def test_the_audit_page_lists_checkpoints_and_serves_their_files(app: Any) -> None:
    rt = app.extensions["tracker"]
    story(rt)
    made = checkpoints.make(rt)
    from browser.webkit import make_user

    make_user(app, "otto", "auditor")
    client = app.test_client()
    assert sign_in(client, "otto").status_code == 302
    page = text(client.get("/audit"))
    assert checkpoints.public_key_hex(rt) in page and f"checkpoint-{made.id}.json" in page
    served = client.get(f"/audit/checkpoints/{made.id}.json")
    assert served.status_code == 200 and json.loads(served.get_data())["statement"] == made.statement
    assert client.get("/audit/checkpoints/999.json").status_code == 404


def test_the_daily_job_signs_once_a_day_and_mails_the_witnesses(app: Any) -> None:
    rt = app.extensions["tracker"]
    new_case(rt, "Sparrow", "2022-09-25")
    server = Server()
    server.start()
    try:
        rt.settings.update(
            SMTP_URL=f"smtp://127.0.0.1:{server.port}", MAIL_FROM="tracker@example.org",
            CHECKPOINT_WITNESSES="board@example.org, partner@example.net",
        )  # fmt: skip
        jobs.bind(rt)
        jobs.make_checkpoint()
        jobs.make_checkpoint()  # a restart the same day makes no second one
        assert len(checkpoints.listed(rt)) == 1
        (message,) = server.inbox.messages
        assert sorted(server.inbox.recipients[0]) == ["board@example.org", "partner@example.net"]
        (attached,) = [p for p in message.walk() if p.get_filename()]
        assert json.loads(attached.get_payload(decode=True)) == checkpoints.listed(rt)[0].export()
        later = rt.now() + timedelta(hours=24)
        rt.clock = lambda: later
        record(rt, checkpoints.listed(rt)[0].content["heads"][0][0], "note_added", "2022-10-01", text="x")
        jobs.make_checkpoint()
        assert len(checkpoints.listed(rt)) == 2
    finally:
        jobs.bind(None)
        server.stop()


def test_a_bad_checkpoint_file_is_one_clear_message(app: Any, tmp_path: Path) -> None:
    file = tmp_path / "nonsense.json"
    file.write_text("{not json")
    result = app.test_cli_runner().invoke(cli, ["verify", "--checkpoint", str(file)])
    assert result.exit_code == 1 and "not a tracker checkpoint file" in result.output
    assert "Traceback" not in result.output


_ = (delete_last, rehash, swap)  # the attacks come from test_tamper
