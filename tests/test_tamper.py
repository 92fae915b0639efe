"""An attacker who holds the database alone (not the installation key): triggers dropped, rows changed,
plain SHA-256 hashes recomputed as the tracker computes them. `tracker verify` names each change."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from corekit import ADMIN, new_case, record

from tracker.cli import cli
from tracker.services import integrity, reading
from tracker.store.hashing import GENESIS, event_hash
from tracker.store.tables import EventRow


def drop_triggers(conn: sa.Connection) -> None:
    """What an owner of the database can do: the append-only triggers go first."""
    if conn.dialect.name == "sqlite":
        for action in ("update", "delete"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS events_no_{action}")
    else:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_append_only ON events")


def rehash(conn: sa.Connection, case_id: str) -> None:
    """Recompute the plain hash chain of a case from its (changed) rows, as an attacker would."""
    rows = conn.execute(sa.select(EventRow.__table__).where(EventRow.case_id == case_id).order_by("version"))
    previous = GENESIS
    for row in rows.mappings().all():
        digest = event_hash(
            id=row["id"], case_id=row["case_id"], version=row["version"], type=row["type"],
            schema_version=row["schema_version"], occurred_on=row["occurred_on"],
            date_precision=row["date_precision"], recorded_at=row["recorded_at"],
            recorded_by=row["recorded_by"], data=row["data"], metadata=row["metadata"], previous=previous,
        )  # fmt: skip
        conn.execute(sa.text("UPDATE events SET hash = :h WHERE id = :i"), {"h": digest, "i": row["id"]})
        previous = digest


def story(rt: Any) -> tuple[str, str]:
    sparrow = new_case(rt, "Sparrow", "2022-09-25")
    record(rt, sparrow, "fled_country", "2022-09-27", from_country="RU", to_country="KZ")
    record(rt, sparrow, "note_added", "2022-10-01", text="called the hotline")
    record(rt, sparrow, "risk_assessed", "2022-10-02", level="high")
    record(rt, sparrow, "contact_made", "2022-10-03")
    farhad = new_case(rt, "Farhad", "2022-09-22")
    record(rt, farhad, "note_added", "2022-09-23", text="first call")
    # Someone looked at the case: the access log keeps its id (the one trace a deleted case leaves here).
    reading.get_case(rt, ADMIN, farhad)
    return sparrow, farhad


def _sql(conn: sa.Connection, text: str, **params: Any) -> None:
    conn.execute(sa.text(text), params)


def change_payload(conn: sa.Connection, case: str, other: str) -> None:
    _sql(conn, "UPDATE events SET data = :d WHERE case_id = :c AND version = 3",
         d='{"text":"never called"}', c=case)  # fmt: skip
    rehash(conn, case)


def change_date(conn: sa.Connection, case: str, other: str) -> None:
    _sql(
        conn, "UPDATE events SET occurred_on = :d WHERE case_id = :c AND version = 2", d="2022-12-01", c=case
    )
    rehash(conn, case)


def delete_last(conn: sa.Connection, case: str, other: str) -> None:
    # The read model is brought in line too: it recorded the version and position the case reached.
    _sql(conn, "DELETE FROM events WHERE case_id = :c AND version = 5", c=case)
    _sql(conn, "DELETE FROM event_seals WHERE case_id = :c AND version = 5", c=case)
    top = conn.execute(sa.text("SELECT max(position) FROM events WHERE case_id = :c"), {"c": case}).scalar()
    _sql(conn, "UPDATE case_status SET version = 4, position = :p WHERE case_id = :c", p=top, c=case)


def delete_case(conn: sa.Connection, case: str, other: str) -> None:
    for table in ("events", "event_seals", "case_heads", "case_status", "case_keys", "case_assignments",
                  "deadlines"):  # fmt: skip
        _sql(conn, f"DELETE FROM {table} WHERE case_id = :c", c=other)


def swap(conn: sa.Connection, case: str, other: str) -> None:
    """Versions 3 and 4 trade places in the story (positions kept rising, as verify wants them)."""
    query = "SELECT position FROM events WHERE case_id = :c AND version = :v"
    p3, p4 = (conn.execute(sa.text(query), {"c": case, "v": v}).scalar() for v in (3, 4))
    move = "UPDATE events SET version = :to, position = :p WHERE case_id = :c AND version = :v"
    _sql(conn, move, to=-1, p=-1, c=case, v=3)
    _sql(conn, move, to=3, p=p3, c=case, v=4)
    _sql(conn, move, to=4, p=p4, c=case, v=-1)
    rehash(conn, case)


ATTACKS = {
    "changed payload": (change_payload, "sparrow", r"version 3 was changed"),
    "changed date": (change_date, "sparrow", r"version 2 was changed"),
    "deleted last event": (delete_last, "sparrow", r"versions 5 to 5 are gone"),
    "deleted whole case": (delete_case, "store", r"case {farhad} deleted whole"),
    "swapped events": (swap, "sparrow", r"version 3 was changed"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_verify_names_each_change_made_with_the_database_alone(app: Any, attack: str) -> None:
    rt = app.extensions["tracker"]
    sparrow, farhad = story(rt)
    assert integrity.verify(rt) == (2, [])
    tamper, where, pattern = ATTACKS[attack]
    with rt.db.engine.begin() as conn:
        drop_triggers(conn)
        tamper(conn, sparrow, farhad)
    # The plain chains hold: without the keyed seals this change would pass.
    with rt.db.read() as session:
        assert integrity.check_chains(session)[1] == []

    _checked, broken = integrity.verify(rt)

    named = {"sparrow": sparrow, "farhad": farhad, "store": "store"}[where]
    problems = [b.problem for b in broken if b.case_id == named]
    assert problems, broken
    assert any(re.search(pattern.format(farhad=farhad), p) for p in problems), problems
    assert all(b.case_id in (sparrow, farhad, "store") for b in broken)
    # The command says it too, and fails.
    result = app.test_cli_runner().invoke(cli, ["verify"])
    assert result.exit_code == 1 and named in result.output, result.output


def test_a_deleted_seal_or_store_seal_is_named(app: Any) -> None:
    rt = app.extensions["tracker"]
    sparrow, _farhad = story(rt)
    with rt.db.engine.begin() as conn:
        _sql(conn, "DELETE FROM event_seals WHERE case_id = :c AND version = 2", c=sparrow)
    assert [b.problem for b in integrity.verify(rt)[1]] == [
        "version 2 has no keyed seal (deleted, or the event was put in by hand)"
    ]
    with rt.db.engine.begin() as conn:
        _sql(conn, "DELETE FROM store_seal")
    assert any(b.case_id == "store" and "no keyed seal" in b.problem for b in integrity.verify(rt)[1])


def test_a_database_from_before_seals_is_sealed_once_by_tracker_seal(app: Any) -> None:
    rt = app.extensions["tracker"]
    sparrow, _farhad = story(rt)
    # As a database from before seals holds them: events, no seal.
    with rt.db.engine.begin() as conn:
        for table in ("event_seals", "case_heads", "store_seal"):
            _sql(conn, f"DELETE FROM {table}")
    record(rt, sparrow, "note_added", "2022-10-04", text="after the upgrade")  # sealed as it is appended
    broken = integrity.verify(rt)[1]
    assert [(b.case_id, b.problem) for b in broken] == [
        ("store", "the store has no keyed seal: run `tracker seal` once (a database from before seals), "
                  "or it was deleted")
    ]  # fmt: skip
    runner = app.test_cli_runner()
    done = runner.invoke(cli, ["seal"])
    assert done.exit_code == 0 and "sealed 7 events" in done.output, done.output
    assert integrity.verify(rt) == (2, [])
    # Sealing again is refused: it would bless whatever was changed since.
    again = runner.invoke(cli, ["seal"])
    assert again.exit_code == 1 and "sealed already" in again.output


def test_seal_refuses_a_broken_plain_chain(app: Any) -> None:
    rt = app.extensions["tracker"]
    sparrow, _farhad = story(rt)
    with rt.db.engine.begin() as conn:
        drop_triggers(conn)
        for table in ("event_seals", "case_heads", "store_seal"):
            _sql(conn, f"DELETE FROM {table}")
        _sql(conn, "UPDATE events SET data = :d WHERE case_id = :c AND version = 3", d="{}", c=sparrow)
    result = app.test_cli_runner().invoke(cli, ["seal"])
    assert result.exit_code == 1 and f"case {sparrow}: the hash of version 3" in result.output
    with rt.db.read() as session:
        assert session.scalar(sa.text("SELECT count(*) FROM event_seals")) == 0
