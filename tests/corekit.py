"""Helpers for the core tests: service-level case building and raw looks at the event store."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from tracker.auth.users import Actor
from tracker.domain.commands import EventInput
from tracker.services import writing
from tracker.services.runtime import Runtime
from tracker.store.tables import EventRow

ADMIN = Actor("ada", "admin")
# Still Argon2id, at the smallest cost: these tests make many users and never test the hash's strength.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make new users' password hashes cheap for the rest of the test."""
    monkeypatch.setattr("tracker.auth.users._hasher", CHEAP_HASHER)


def event(type_: str, on: str, precision: str = "day", **data: Any) -> EventInput:
    """An event input as the API would hand it to the services (already parsed)."""
    return EventInput(type_, date.fromisoformat(on), precision, data)


def new_case(rt: Runtime, pseudonym: str = "Sparrow", on: str = "2022-09-25", actor: Actor = ADMIN) -> str:
    """A case opened through the service layer; returns its id."""
    opened = event("case_opened", on, pseudonym=pseudonym, citizenship="RU", category="mobilization_evader")
    case_id, _ = writing.open_case(rt, actor, opened)
    return case_id


def record(rt: Runtime, case_id: str, type_: str, on: str, actor: Actor = ADMIN, **data: Any) -> str:
    """Record one event through the service layer; returns its id."""
    event_id, _ = writing.record_event(rt, actor, case_id, event(type_, on, **data))
    return event_id


def stored(rt: Runtime, case_id: str | None = None) -> list[EventRow]:
    """Stored rows (of one case, or all) in position order."""
    query = sa.select(EventRow).order_by(EventRow.position)
    if case_id is not None:
        query = query.where(EventRow.case_id == case_id)
    with rt.db.read() as session:
        rows = list(session.scalars(query))
        session.expunge_all()  # detached before the unit of work's rollback would expire them
        return rows


def table_rows(rt: Runtime, table: str, order_by: str) -> list[dict[str, Any]]:
    """Every row of a table as plain dicts, in a stable order."""
    with rt.db.engine.connect() as conn:
        result = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY {order_by}"))
        return [dict(row._mapping) for row in result]
