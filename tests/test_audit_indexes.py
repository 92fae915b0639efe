"""The organization's audit log and the event picker read the access log and the events through indexes,
not by scanning them (migration 0008), on each engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa

from tracker.db import make_engine
from tracker.services import audit_sources
from tracker.services.audit_sources import SOURCES
from tracker.store.tables import EventRow


@dataclass
class Filter:
    actor: str | None = None
    target: str | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None


def plan(conn: sa.Connection, query: sa.Select) -> str:
    sql = str(query.compile(conn.engine, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        return " ".join(str(row[-1]) for row in conn.execute(sa.text("EXPLAIN QUERY PLAN " + sql)))
    # An empty table is cheapest to scan; the question is whether an index serves the query at all.
    conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
    conn.execute(sa.text("SET LOCAL enable_sort = off"))
    return " ".join(str(row[0]) for row in conn.execute(sa.text("EXPLAIN " + sql)))


def newest_first(source: audit_sources.Source, f: Filter) -> sa.Select:
    query = audit_sources._where(source, f)
    assert query is not None
    return query.order_by(source.at.desc(), source.id.desc()).limit(100)


@pytest.mark.parametrize(
    ("source", "f", "index"),
    [
        (1, Filter(), "ix_access_log_at_id"),
        (1, Filter(since=date(2024, 1, 1), until=date(2024, 1, 31)), "ix_access_log_at_id"),
        (1, Filter(actor="anna"), "ix_access_log_username_at_id"),
        (2, Filter(), "ix_events_recorded_at_position"),
        (2, Filter(since=date(2024, 1, 1)), "ix_events_recorded_at_position"),
        (2, Filter(actor="anna"), "ix_events_recorded_by_recorded_at_position"),
    ],
)
def test_the_audit_log_reads_case_reads_and_writes_by_index(db_url: str, source: int, f: Filter, index: str):
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            assert index in plan(conn, newest_first(SOURCES[source], f))
    finally:
        engine.dispose()


def test_the_pickers_usual_types_read_the_users_newest_events_by_index(db_url: str):
    query = (
        sa.select(EventRow.type)
        .where(EventRow.recorded_by == "anna")
        .order_by(EventRow.recorded_at.desc(), EventRow.position.desc())
        .limit(200)
    )
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            assert "ix_events_recorded_by_recorded_at_position" in plan(conn, query)
    finally:
        engine.dispose()
