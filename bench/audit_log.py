"""How long a page of the organization's audit log takes with a large access log and event store.

    .venv/bin/python bench/audit_log.py [--reads N] [--db sqlite|postgres] [--pg-url URL] [--without-0008]

Fills an empty database with `--reads` case reads (20 users, 50 cases, over a year) and as many event
writes, then times the first page of /audit's merged read (tracker.services.audit_sources.read)
unfiltered, by one actor, by one case and by one week. `--without-0008` stops the migrations before
0008 (the indexes on the access log and the events by time and by user), to compare.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracker.db import make_engine
from tracker.migrate import upgrade
from tracker.services import audit_sources
from tracker.services.audit import AuditFilter

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fill(engine: sa.Engine, reads: int) -> str:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    cases = [str(uuid.uuid4()) for _ in range(50)]
    users = [f"user{i}" for i in range(20)]
    step = 365 * 86400 / reads
    with engine.begin() as conn:
        for lo in range(0, reads, 10000):
            hi = min(reads, lo + 10000)
            conn.execute(
                sa.text(
                    "INSERT INTO access_log (at, username, case_id, action, via)"
                    " VALUES (:at, :u, :c, 'page', 'web')"
                ),
                [
                    {"at": start + timedelta(seconds=i * step), "u": users[i % 20], "c": cases[i % 50]}
                    for i in range(lo, hi)
                ],
            )
            conn.execute(
                sa.text(
                    "INSERT INTO events (id, case_id, version, type, schema_version, occurred_on,"
                    " date_precision, recorded_at, recorded_by, data, metadata, hash)"
                    " VALUES (:id, :c, :v, 'note_added', 1, :on, 'day', :at, :u, '{}', '{}', 'x')"
                ),
                [
                    {
                        "id": str(uuid.uuid4()),
                        "c": cases[i % 50],
                        "v": i // 50 + 1,
                        "on": (start + timedelta(seconds=i * step)).date(),
                        "at": start + timedelta(seconds=i * step + 1),
                        "u": users[(i * 7) % 20],
                    }
                    for i in range(lo, hi)
                ],
            )
    return cases[0]


def timed(engine: sa.Engine, f: AuditFilter, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        with engine.connect() as conn, Session(conn) as session:
            t = time.perf_counter()
            audit_sources.read(session, f, 100)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=200_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--without-0008", action="store_true")
    args = parser.parse_args()
    revision = "0007" if args.without_0008 else "head"
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "sqlite":
            url = f"sqlite:///{tmp}/audit.db"
        else:
            admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text("DROP DATABASE IF EXISTS tracker_bench_audit"))
                conn.execute(sa.text("CREATE DATABASE tracker_bench_audit"))
            admin.dispose()
            url = args.pg_url.rsplit("/", 1)[0] + "/tracker_bench_audit"
        upgrade(url, revision)
        engine = make_engine(url)
        case = fill(engine, args.reads)
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
        week = date(2025, 6, 2)
        for name, f in (
            ("unfiltered", AuditFilter()),
            ("by actor", AuditFilter(actor="user3")),
            ("by case", AuditFilter(target=case)),
            ("one week", AuditFilter(since=week, until=week + timedelta(days=6))),
        ):
            print(f"{args.db} {revision} {args.reads} reads, {name}: {timed(engine, f) * 1000:.1f} ms")
        engine.dispose()
        if args.db == "postgres":
            admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text("DROP DATABASE IF EXISTS tracker_bench_audit"))
            admin.dispose()


if __name__ == "__main__":
    main()
