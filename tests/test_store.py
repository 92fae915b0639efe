"""The event store's contract, on every engine: atomic batches, versions, the chain, append-only rows."""

from __future__ import annotations

import dataclasses
import itertools
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from corekit import ADMIN, event, new_case, record, stored
from sqlalchemy.exc import DBAPIError, IntegrityError

from tracker.services import writing
from tracker.store.events import (
    ConcurrencyError,
    NewEvent,
    append,
    head,
    lock_for_append,
    read_all,
    read_stream,
)
from tracker.store.hashing import GENESIS, canonical_json, event_hash
from tracker.store.tables import EventRow

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def note(text: str, event_id: str | None = None) -> NewEvent:
    return NewEvent(
        id=event_id or str(uuid.uuid4()),
        type="note_added",
        schema_version=1,
        occurred_on=date(2023, 1, 1),
        date_precision="day",
        data=canonical_json({"text": text}),
        metadata=canonical_json({"source": "system"}),
    )


def append_now(rt: Any, case_id: str, expected: int, batch: list[NewEvent], **kw: Any) -> list[EventRow]:
    with rt.db.write() as session:
        lock_for_append(session)
        return append(session, case_id, expected, batch, "ada", NOW, **kw)


def hash_of(row: EventRow, previous: str) -> str:
    return event_hash(
        id=row.id,
        case_id=row.case_id,
        version=row.version,
        type=row.type,
        schema_version=row.schema_version,
        occurred_on=row.occurred_on,
        date_precision=row.date_precision,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        data=row.data,
        metadata=row.meta,
        previous=previous,
    )


def test_a_batch_appends_consecutive_versions(rt: Any) -> None:
    case_id = new_case(rt)
    rows = append_now(rt, case_id, 1, [note("a"), note("b"), note("c")])
    assert [r.version for r in rows] == [2, 3, 4]
    with rt.db.read() as session:
        assert [r.version for r in read_stream(session, case_id)] == [1, 2, 3, 4]
        assert [r.version for r in read_stream(session, case_id, after_version=2)] == [3, 4]
        assert head(session, case_id) == (4, rows[-1].hash)


def test_a_batch_whose_second_event_fails_stores_nothing(rt: Any) -> None:
    case_id = new_case(rt)
    before = stored(rt)
    # The second event reuses the id of the stored case_opened: the insert fails at the database.
    bad = note("second", event_id=before[0].id)
    with pytest.raises((ConcurrencyError, IntegrityError)):
        append_now(rt, case_id, 1, [note("first"), bad, note("third")])
    assert [(r.id, r.version) for r in stored(rt)] == [(r.id, r.version) for r in before]
    # The case is unharmed: the next append takes version 2.
    assert [r.version for r in append_now(rt, case_id, 1, [note("again")])] == [2]


def test_a_service_batch_whose_second_event_is_invalid_stores_nothing(rt: Any) -> None:
    from tracker.events.catalogue import ValidationError

    case_id = new_case(rt)
    opened = event("case_opened", "2022-09-25", pseudonym="Other", citizenship="RU", category="other")
    with rt.db.write() as session:
        ctx = writing.case_context(session, case_id, 1, "open")
    with pytest.raises(ValidationError), rt.db.write() as session:
        lock_for_append(session)
        writing.append_checked(
            rt, session, ADMIN, case_id, [event("note_added", "2023-01-01", text="ok"), opened], ctx, None,
            source="api",
        )  # fmt: skip
    assert [r.type for r in stored(rt, case_id)] == ["case_opened"]


def test_an_append_at_a_stale_version_is_a_conflict(rt: Any) -> None:
    case_id = new_case(rt)
    append_now(rt, case_id, 1, [note("a")])
    with pytest.raises(ConcurrencyError) as info:
        append_now(rt, case_id, 1, [note("late")])
    assert (info.value.expected, info.value.actual) == (1, 2)
    with pytest.raises(ConcurrencyError):
        append_now(rt, case_id, 5, [note("from the future")])
    assert len(stored(rt, case_id)) == 2


def test_record_event_with_a_stale_expected_version_is_a_conflict(rt: Any) -> None:
    case_id = new_case(rt)
    record(rt, case_id, "note_added", "2023-01-01", text="one")
    with pytest.raises(ConcurrencyError):
        writing.record_event(rt, ADMIN, case_id, event("note_added", "2023-01-02", text="x"), 1)
    assert writing.record_event(rt, ADMIN, case_id, event("note_added", "2023-01-02", text="x"), 2)[1] == 3


def test_the_unique_constraint_refuses_a_second_writer_of_a_version(rt: Any) -> None:
    case_id = new_case(rt)
    (first,) = stored(rt, case_id)
    copy = {a.columns[0].name: getattr(first, a.key) for a in sa.inspect(EventRow).column_attrs}
    copy.pop("position")
    copy["id"] = str(uuid.uuid4())
    with pytest.raises(IntegrityError), rt.db.engine.begin() as conn:
        conn.execute(sa.insert(EventRow.__table__).values(**copy))
    assert len(stored(rt, case_id)) == 1


def test_the_constraint_stops_a_writer_that_skipped_the_version_check(rt: Any) -> None:
    # A writer that read the head before another commit passes that stale head's hash and skips the check:
    # only the database's (case_id, version) constraint stands between it and a second version 2.
    case_id = new_case(rt)
    (opened,) = stored(rt, case_id)
    append_now(rt, case_id, 1, [note("winner")])
    with pytest.raises(ConcurrencyError):
        append_now(rt, case_id, 1, [note("loser")], previous_hash=opened.hash)
    assert [json.loads(r.data).get("text") for r in stored(rt, case_id)] == [None, "winner"]


@pytest.mark.parametrize("statement", ["UPDATE events SET data = '{}'", "DELETE FROM events"])
def test_the_database_refuses_to_change_or_remove_an_event(rt: Any, statement: str) -> None:
    case_id = new_case(rt)
    record(rt, case_id, "note_added", "2023-01-01", text="fact")
    before = stored(rt)
    with pytest.raises(DBAPIError, match="append-only"), rt.db.engine.begin() as conn:
        conn.execute(sa.text(statement + " WHERE case_id = :c"), {"c": case_id})
    assert [(r.id, r.data, r.hash) for r in stored(rt)] == [(r.id, r.data, r.hash) for r in before]


def test_the_database_refuses_to_truncate_events_on_postgresql(rt: Any, engine_name: str) -> None:
    if engine_name != "postgres":
        pytest.skip("TRUNCATE is PostgreSQL's")
    new_case(rt)
    with pytest.raises(DBAPIError, match="append-only"), rt.db.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE events"))
    assert len(stored(rt)) == 1


def test_each_hash_links_to_the_previous_event_of_its_case(rt: Any) -> None:
    first, second = new_case(rt, "A"), new_case(rt, "B")
    for i in range(3):
        record(rt, first, "note_added", "2023-01-01", text=f"a{i}")
        record(rt, second, "note_added", "2023-01-01", text=f"b{i}")
    for case_id in (first, second):
        previous = GENESIS
        for row in stored(rt, case_id):
            assert len(row.hash) == 64 and int(row.hash, 16) >= 0
            assert row.hash == hash_of(row, previous), f"version {row.version} does not chain"
            previous = row.hash


def test_the_hash_covers_every_stored_field_and_the_previous_hash(rt: Any) -> None:
    case_id = new_case(rt)
    record(rt, case_id, "contact_details_changed", "2023-01-01", phone="+7 700 000 0000")
    first, second = stored(rt, case_id)
    assert second.hash == hash_of(second, first.hash)
    changed = {
        "id": str(uuid.uuid4()),
        "case_id": str(uuid.uuid4()),
        "version": 3,
        "type": "note_added",
        "schema_version": 2,
        "occurred_on": date(2023, 1, 2),
        "date_precision": "month",
        "recorded_at": datetime(2030, 1, 1, tzinfo=UTC),
        "recorded_by": "mallory",
        "data": second.data.replace("phone", "phone "),
        "meta": '{"source":"web"}',
    }
    for name, value in changed.items():
        assert hash_of(dataclasses.replace(_Plain.of(second), **{name: value}), first.hash) != second.hash, (
            f"{name} is not covered by the hash"
        )  # fmt: skip
    assert hash_of(second, GENESIS) != second.hash


@dataclasses.dataclass
class _Plain:
    """A detached copy of a row, for trying changes on it."""

    id: str
    case_id: str
    version: int
    type: str
    schema_version: int
    occurred_on: date
    date_precision: str
    recorded_at: datetime
    recorded_by: str
    data: str
    meta: str

    @classmethod
    def of(cls, row: EventRow) -> _Plain:
        return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})


def test_positions_grow_with_versions_within_a_case_and_in_commit_order_overall(rt: Any) -> None:
    cases = [new_case(rt, name) for name in ("A", "B", "C")]
    for i in range(4):
        for case_id in cases:
            record(rt, case_id, "note_added", "2023-01-01", text=str(i))
    everything = stored(rt)
    positions = [r.position for r in everything]
    assert len(set(positions)) == len(positions)
    for case_id in cases:
        rows = [r for r in everything if r.case_id == case_id]
        assert [r.version for r in rows] == [1, 2, 3, 4, 5]
        assert all(a.position < b.position for a, b in itertools.pairwise(rows))
    # Interleaved appends: commit order is position order.
    assert [r.case_id for r in everything[3:6]] == cases


def test_read_all_pages_through_every_event_by_position(rt: Any) -> None:
    for name in ("A", "B"):
        case_id = new_case(rt, name)
        for i in range(3):
            record(rt, case_id, "note_added", "2023-01-01", text=str(i))
    seen: list[str] = []
    after = 0
    with rt.db.read() as session:
        while page := read_all(session, after, limit=3):
            assert len(page) <= 3
            seen += [r.id for r in page]
            after = page[-1].position
    assert seen == [r.id for r in stored(rt)]
    assert len(seen) == 8


def bypass_trigger(rt: Any, statement: str, params: dict[str, Any]) -> None:
    """Run one statement on events with the append-only trigger out of the way, then put it back."""
    with rt.db.engine.begin() as conn:
        if rt.db.sqlite:
            triggers = conn.execute(
                sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'")
            ).all()
            for name, _sql in triggers:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
            conn.execute(sa.text(statement), params)
            for _name, sql in triggers:
                conn.exec_driver_sql(sql)
        else:
            conn.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER USER")
            conn.execute(sa.text(statement), params)
            conn.exec_driver_sql("ALTER TABLE events ENABLE TRIGGER USER")


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE events SET data = :data WHERE case_id = :case AND version = 2", "hash of version 2"),
        (
            "UPDATE events SET recorded_by = 'mallory' WHERE case_id = :case AND version = 3",
            "hash of version 3",
        ),
        ("DELETE FROM events WHERE case_id = :case AND version = 2", "version 2 is missing"),
        # The newest event leaves no gap behind; the case's read model still knows it existed.
        ("DELETE FROM events WHERE case_id = :case AND version = 4", "version 4 is missing"),
        ("DELETE FROM events WHERE case_id = :case", "version 1 is missing"),
        # Positions are not hashed: an event moved in the global order is caught by the order itself.
        (
            "UPDATE events SET position = (SELECT max(position) + 100 FROM events) "
            "WHERE case_id = :case AND version = 2",
            "version 3 has position",
        ),
        (
            "UPDATE events SET position = (SELECT max(position) + 100 FROM events) "
            "WHERE case_id = :case AND version = 4",
            "newest event is at position",
        ),
    ],
    ids=["data", "recorded_by", "deleted", "newest-deleted", "all-deleted", "moved", "newest-moved"],
)
def test_verify_names_the_case_whose_events_were_changed_by_hand(
    rt: Any, statement: str, problem: str
) -> None:
    from tracker.services import integrity

    cases = [new_case(rt, name) for name in ("A", "B")]
    for case_id in cases:
        for i in range(3):
            record(rt, case_id, "note_added", "2023-01-01", text=f"note {i}")
    assert integrity.verify(rt) == (2, [])
    bypass_trigger(rt, statement, {"case": cases[1], "data": '{"text":"forged"}'})
    checked, broken = integrity.verify(rt)
    assert checked == 2
    assert [b.case_id for b in broken] == [cases[1]]
    assert problem in broken[0].problem
    # The trigger is back in force.
    with pytest.raises(DBAPIError, match="append-only"), rt.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM events"))


def test_a_failing_projection_takes_its_append_with_it(rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker.projections.tables import CaseRow

    case_id = new_case(rt)

    def broken(*_args: Any, **_kw: Any) -> None:
        raise RuntimeError("projection failed")

    monkeypatch.setattr("tracker.services.writing.project", broken)
    with pytest.raises(RuntimeError):
        record(rt, case_id, "note_added", "2023-01-01", text="lost with its projection")
    monkeypatch.undo()
    assert [r.version for r in stored(rt, case_id)] == [1]
    with rt.db.read() as session:
        assert session.get(CaseRow, case_id).version == 1
    assert writing.record_event(rt, ADMIN, case_id, event("note_added", "2023-01-02", text="x"), 1)[1] == 2
