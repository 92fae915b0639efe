"""Time one scheduler pass over many cases, beside the raw floor of reading the same deadline rows.

    .venv/bin/python bench/scheduler_pass.py                       # 100,000 cases on PostgreSQL
    .venv/bin/python bench/scheduler_pass.py --cases 20000 --db sqlite

The pass reads only read models (deadlines, assignments, users, alerts), so the cases are loaded by a
fast bulk path straight into those tables (COPY on PostgreSQL) rather than through the event store:
each case has a status row, one caseworker (5% have none, so their alerts go to the supervisors),
and three deadlines of kinds drawn from the rules, due between 60 days ago and 400 days ahead; 10% of
the cases are closed (their deadlines are not active). Then it measures:

- floor: the plain SELECT of the deadline rows the pass reads (active, due within the widest window);
- first pass: every alert owed today is new (the state after a long downtime, or a first start);
- steady pass: a second pass the same day, which finds every alert already there (the usual case).

Users have no e-mail address, so delivery is one UPDATE: this measures the scan, not an SMTP server.
The bench creates and drops its own database `tracker_sched_bench` (or a file under bench/out/).
"""

from __future__ import annotations

import argparse
import base64
import random
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DB_NAME = "tracker_sched_bench"
DATA_KEY = base64.urlsafe_b64encode(b"tracker-scheduler-bench-key-32by").decode()
CASEWORKERS = [f"cw{n:02d}" for n in range(1, 21)]
SUPERVISORS = ["sup1", "sup2"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_database(engine_name: str, pg_url: str) -> str:
    from tracker.migrate import upgrade

    if engine_name == "sqlite":
        OUT.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", ".pass-lock", ".mail-lock"):
            (OUT / f"sched_bench.db{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{OUT / 'sched_bench.db'}"
    else:
        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
        admin.dispose()
        url = sa.make_url(pg_url).set(database=DB_NAME).render_as_string(hide_password=False)
    upgrade(url)
    return url


def drop_database(engine_name: str, pg_url: str) -> None:
    if engine_name == "postgres":
        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        admin.dispose()


def generate(cases: int, rules: Any, today: date, seed: int) -> dict[str, list[tuple]]:
    """Rows of users, case_status, case_assignments and deadlines."""
    rng = random.Random(seed)
    kinds = list(rules.kind_rules.values())
    now = datetime.now(UTC)
    rows: dict[str, list[tuple]] = {"users": [], "case_status": [], "case_assignments": [], "deadlines": []}
    for name in CASEWORKERS + SUPERVISORS:
        role = "supervisor" if name in SUPERVISORS else "caseworker"
        rows["users"].append((name, role, "!", None, True, now))
    for n in range(cases):
        case_id = str(uuid.uuid4())
        state = "closed" if rng.random() < 0.10 else "open"
        opened = today - timedelta(days=rng.randint(60, 900))
        pseudonym = f"Case {n:06d}"
        rows["case_status"].append(
            (
                case_id,
                3,
                n + 1,
                pseudonym,
                pseudonym.casefold(),
                "other",
                state,
                opened,
                False,
                "{}",
                opened,
                3,
            )
        )
        if rng.random() >= 0.05:
            rows["case_assignments"].append((rng.choice(CASEWORKERS), case_id))
        for _ in range(3):
            rule = rng.choice(kinds)
            due = today + timedelta(days=rng.randint(-60, 400))
            key = f"{rule.kind}:{uuid.uuid4()}:{due.isoformat()}"
            title = rule.title.replace("{country}", "KZ").replace("{kind}", "passport")
            rows["deadlines"].append(
                (key, case_id, rule.kind, title[:300], due, "open", str(uuid.uuid4()), None, state == "open")
            )
    return rows


COLUMNS = {
    "users": ("username", "role", "password_hash", "email", "active", "created_at"),
    "case_status": (
        "case_id", "version", "position", "pseudonym", "pseudonym_key", "category", "state", "opened_on",
        "erased", "fold", "fold_on", "fold_version",
    ),
    "case_assignments": ("username", "case_id"),
    "deadlines": (
        "key", "case_id", "kind", "title", "due_on", "state", "source_event_id", "resolved_by", "active",
    ),
}  # fmt: skip


def load(engine: sa.Engine, rows: dict[str, list[tuple]]) -> None:
    """Bulk-load the rows: COPY on PostgreSQL, executemany on SQLite; then refresh the planner's stats."""
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur:
                for table, items in rows.items():
                    with cur.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                        for item in items:
                            copy.write_row(item)
            raw.commit()
        finally:
            raw.close()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        return
    meta = sa.MetaData()
    with engine.begin() as conn:
        for table, items in rows.items():
            t = sa.Table(table, meta, autoload_with=conn)
            for chunk in _chunks(items, 5000):
                conn.execute(t.insert(), [dict(zip(COLUMNS[table], item, strict=True)) for item in chunk])
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")


def _chunks(items: Sequence[tuple], size: int) -> Iterable[Sequence[tuple]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def floor(engine: sa.Engine, horizon: date) -> tuple[int, float]:
    """The raw floor: the plain SELECT of the deadline rows a pass reads."""
    query = sa.text(
        "SELECT key, case_id, kind, due_on FROM deadlines WHERE active = :active AND due_on <= :horizon"
    )
    start = time.perf_counter()
    with engine.connect() as conn:
        found = conn.execute(query, {"active": True, "horizon": horizon}).all()
    return len(found), time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)

    import os

    os.environ["TRACKER_INSTANCE_PATH"] = str(OUT / "instance-sched")
    from tracker import create_app
    from tracker.services.alerts import run_pass

    url = make_database(args.db, args.pg_url)
    try:
        app = create_app({"DATABASE_URL": url, "DATA_KEY": DATA_KEY, "SECRET_KEY": "bench", "SMTP_URL": ""})
        rt = app.extensions["tracker"]
        now = rt.now()
        horizon = now.date() + timedelta(days=rt.rules.max_lead_days)
        log(f"generating {args.cases} cases")
        rows = generate(args.cases, rt.rules, now.date(), args.seed)
        log(f"loading {len(rows['deadlines'])} deadlines")
        started = time.perf_counter()
        load(rt.db.engine, rows)
        log(f"loaded in {time.perf_counter() - started:.1f} s")
        in_window, floor_s = floor(rt.db.engine, horizon)
        floor(rt.db.engine, horizon)  # warm, like the passes below
        in_window, floor_s = floor(rt.db.engine, horizon)
        first_wall = time.perf_counter()
        first = run_pass(rt, now)
        first_wall = time.perf_counter() - first_wall
        steady_wall = time.perf_counter()
        steady = run_pass(rt, now + timedelta(minutes=5))
        steady_wall = time.perf_counter() - steady_wall
        engine = rt.db.engine.dialect.name
        print(f"scheduler pass over {args.cases} cases on {engine} ({len(rows['deadlines'])} deadlines,")
        print(f"{in_window} of them active inside the {rt.rules.max_lead_days}-day window)")
        print(f"  raw floor: SELECT of the {in_window} deadline rows          {floor_s:8.3f} s")
        print(
            f"  first pass: {first.created} alerts created                   {first_wall:8.3f} s"
            f"  ({first_wall / max(floor_s, 1e-9):.0f}x the floor)"
        )
        print(
            f"  steady pass: {steady.created} alerts created (all exist)     {steady_wall:8.3f} s"
            f"  ({steady_wall / max(floor_s, 1e-9):.0f}x the floor)"
        )
        rt.db.dispose()
    finally:
        if not args.keep:
            drop_database(args.db, args.pg_url)


if __name__ == "__main__":
    main()
