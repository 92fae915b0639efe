"""Raw floors: the same rows written or read through the same engine and driver, with no tracker logic.

Each floor uses the tracker's own SQLAlchemy engine (same pool, same SQLite pragmas and BEGIN
IMMEDIATE for writes) and SQLAlchemy core statements, with the commit pattern of the measurement it
stands beside. Writes go to scratch tables shaped like `events` (same columns, primary key and unique
constraints) so the tracker's data stays untouched.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from common import Timings, repeat

META = sa.MetaData()
WRITE = {"tracker_write": True}


def _events_table() -> sa.Table:
    from tracker.store.tables import EventRow

    return EventRow.__table__  # type: ignore[return-value]


def scratch_tables(engine: sa.Engine) -> tuple[sa.Table, sa.Table]:
    """(raw events, raw status) tables, created empty."""
    events = _events_table()
    raw = sa.Table(
        "bench_raw_events",
        META,
        *(sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable) for c in events.columns),
        sa.UniqueConstraint("id", name="uq_bench_raw_events_id"),
        sa.UniqueConstraint("case_id", "version", name="uq_bench_raw_events_case_id_version"),
        extend_existing=True,
    )
    status = sa.Table(
        "bench_raw_status",
        META,
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer),
        sa.Column("fold", sa.Text),
        extend_existing=True,
    )
    META.drop_all(engine, tables=[raw, status])
    META.create_all(engine, tables=[raw, status])
    return raw, status


def drop_scratch(engine: sa.Engine) -> None:
    META.drop_all(engine)


def templates(engine: sa.Engine, count: int) -> list[dict[str, Any]]:
    """Real stored rows (encrypted data, hashes) to copy in writes, without their position."""
    events = _events_table()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events).order_by(events.c.position.desc()).limit(count)).mappings()
        return [{k: v for k, v in r.items() if k != "position"} for r in rows]


def fresh(template: dict[str, Any], case_id: str, version: int) -> dict[str, Any]:
    return {**template, "id": str(uuid.uuid4()), "case_id": case_id, "version": version}


def import_floor(engine: sa.Engine, raw: sa.Table, chunk: int = 2000) -> tuple[int, float]:
    """Every stored event inserted again in one transaction, `chunk` rows per executemany.

    Returns (rows, seconds spent inserting and committing); reading the source is not counted.
    """
    events = _events_table()
    spent, count = 0.0, 0
    columns = [c for c in events.columns if c.name != "position"]
    with engine.connect() as source, engine.connect().execution_options(**WRITE) as sink:
        result = source.execution_options(yield_per=chunk).execute(
            sa.select(*columns).order_by(events.c.position)
        )
        for part in result.mappings().partitions():
            batch = [dict(r) for r in part]
            t0 = time.perf_counter()
            sink.execute(raw.insert(), batch)
            spent += time.perf_counter() - t0
            count += len(batch)
        t0 = time.perf_counter()
        sink.commit()
        spent += time.perf_counter() - t0
    return count, spent


def single_inserts(engine: sa.Engine, raw: sa.Table, rows: Sequence[dict], count: int) -> Timings:
    """One INSERT + COMMIT per event, each on its own pooled connection checkout."""

    def one(i: int) -> None:
        with engine.connect().execution_options(**WRITE) as conn:
            conn.execute(raw.insert(), fresh(rows[i % len(rows)], str(uuid.uuid4()), 1))
            conn.commit()

    return repeat(one, count)


def concurrent_inserts(
    engine: sa.Engine, raw: sa.Table, rows: Sequence[dict], count: int, clients: int
) -> Timings:
    """`clients` threads doing INSERT + COMMIT, `count` in all."""
    samples: list[float] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        mine: list[float] = []
        for i in range(k, count, clients):
            t0 = time.perf_counter()
            with engine.connect().execution_options(**WRITE) as conn:
                conn.execute(raw.insert(), fresh(rows[i % len(rows)], str(uuid.uuid4()), 1))
                conn.commit()
            mine.append(time.perf_counter() - t0)
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Timings(samples, time.perf_counter() - start)


def batch_inserts(
    engine: sa.Engine, raw: sa.Table, rows: Sequence[dict], count: int, size: int = 50
) -> Timings:
    """executemany of `size` rows of one new stream + COMMIT, `count` times."""

    def one(i: int) -> None:
        case_id = str(uuid.uuid4())
        batch = [fresh(rows[(i * size + v) % len(rows)], case_id, v + 1) for v in range(size)]
        with engine.connect().execution_options(**WRITE) as conn:
            conn.execute(raw.insert(), batch)
            conn.commit()

    return repeat(one, count)


def select_status(engine: sa.Engine, case_ids: Sequence[str], count: int) -> Timings:
    """SELECT of one case's status row by primary key."""
    from tracker.projections.tables import CaseRow

    table = CaseRow.__table__

    def one(i: int) -> None:
        with engine.connect() as conn:
            conn.execute(sa.select(table).where(table.c.case_id == case_ids[i % len(case_ids)])).first()

    return repeat(one, count)


def select_stream(engine: sa.Engine, case_id: str, count: int) -> Timings:
    """SELECT of one case's events in version order."""
    events = _events_table()
    query = sa.select(events).where(events.c.case_id == case_id).order_by(events.c.version)

    def one(_i: int) -> None:
        with engine.connect() as conn:
            conn.execute(query).all()

    return repeat(one, count)


def select_list(engine: sa.Engine, today: date, country: str, within: int, count: int) -> Timings:
    """The rows of a filtered case list page: open cases in a country with a deadline soon, 50 of them."""
    from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow

    cases, dl, asg = CaseRow.__table__, DeadlineRow.__table__, AssignmentRow.__table__
    soon = sa.select(dl.c.case_id).where(dl.c.active.is_(True), dl.c.due_on <= today + timedelta(days=within))
    query = (
        sa.select(cases)
        .where(cases.c.state == "open", cases.c.country == country, cases.c.case_id.in_(soon))
        .order_by(cases.c.pseudonym_key, cases.c.case_id)
        .limit(51)
    )

    def one(_i: int) -> None:
        with engine.connect() as conn:
            ids = [r.case_id for r in conn.execute(query)]
            conn.execute(sa.select(asg.c.case_id, asg.c.username).where(asg.c.case_id.in_(ids))).all()
            conn.execute(
                sa.select(dl.c.case_id, sa.func.min(dl.c.due_on))
                .where(dl.c.case_id.in_(ids), dl.c.active.is_(True))
                .group_by(dl.c.case_id)
            ).all()

    return repeat(one, count)


def rebuild_floor(engine: sa.Engine, status: sa.Table, per_commit: int = 200) -> tuple[int, float]:
    """Every event read in (case, version) order, one status row written per case, a commit per 200 cases."""
    events = _events_table()
    query = sa.select(events).order_by(events.c.case_id, events.c.version)
    count, pending, current = 0, [], None
    start = time.perf_counter()
    with engine.connect() as source, engine.connect().execution_options(**WRITE) as sink:
        for row in source.execution_options(yield_per=5000).execute(query):
            count += 1
            if row.case_id != current:
                current = row.case_id
                pending.append({"case_id": row.case_id, "version": row.version, "fold": row.data})
                if len(pending) >= per_commit:
                    sink.execute(status.insert(), pending)
                    sink.commit()
                    pending = []
        if pending:
            sink.execute(status.insert(), pending)
        sink.commit()
    return count, time.perf_counter() - start


def scheduler_floor(engine: sa.Engine, today: date) -> float:
    """Seconds to read every active deadline due within 90 days with its case's caseworkers."""
    from tracker.projections.tables import AssignmentRow, DeadlineRow

    dl, asg = DeadlineRow.__table__, AssignmentRow.__table__
    query = (
        sa.select(dl.c.key, dl.c.case_id, dl.c.due_on, asg.c.username)
        .join(asg, asg.c.case_id == dl.c.case_id, isouter=True)
        .where(dl.c.active.is_(True), dl.c.due_on <= today + timedelta(days=90))
    )
    start = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(query).all()
    return time.perf_counter() - start
