"""The benchmark's own database on each engine: created, migrated, seeded with users, dropped."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from common import OUT_DIR, VENV_BIN, log

BENCH_DB = "tracker_bench"
PASSWORD = "bench-password-2024"
ADMIN = "benchadmin"
# A fixed data key: the benchmark data is synthetic, and a fixed key keeps runs comparable.
DATA_KEY = base64.urlsafe_b64encode(b"tracker-benchmark-data-key-32byt").decode()


@dataclass
class BenchDb:
    """One engine's benchmark database and the TRACKER_* environment that points at it."""

    engine: str  # "sqlite" or "postgres"
    url: str
    admin_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    app: Any = None
    token: str = ""

    @property
    def rt(self) -> Any:
        return self.app.extensions["tracker"]

    @property
    def sqlite_path(self) -> str:
        return sa.make_url(self.url).database or ""


def make(engine: str, pg_url: str) -> BenchDb:
    """A fresh, migrated database with the users the data refers to; the app bound to it in-process."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    instance = OUT_DIR / f"instance-{engine}"
    shutil.rmtree(instance, ignore_errors=True)
    if engine == "sqlite":
        path = OUT_DIR / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            (OUT_DIR / f"bench.db{suffix}").unlink(missing_ok=True)
        db = BenchDb(engine, f"sqlite:///{path}")
    else:
        db = BenchDb(engine, sa.make_url(pg_url).set(database=BENCH_DB).render_as_string(False), pg_url)
        _pg_admin(
            pg_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)', f'CREATE DATABASE "{BENCH_DB}"'
        )
    db.env = {
        "TRACKER_DATABASE_URL": db.url,
        "TRACKER_DATA_KEY": DATA_KEY,
        "TRACKER_SECRET_KEY": "bench-secret-key",
        "TRACKER_INSTANCE_PATH": str(instance),
        "TRACKER_LOG_LEVEL": "WARNING",
    }
    cli(db, "db", "upgrade")
    os.environ.update(db.env)
    from tracker import create_app

    db.app = create_app()
    _seed_users(db)
    return db


def _seed_users(db: BenchDb) -> None:
    from generate import CASEWORKERS

    from tracker.auth.users import create_user, issue_token

    with db.rt.db.write() as session:
        create_user(session, ADMIN, "admin", PASSWORD)
        for name in CASEWORKERS:
            create_user(session, name, "caseworker", PASSWORD)
    with db.rt.db.write() as session:
        db.token = issue_token(session, ADMIN, "bench")


def cli(db: BenchDb, *args: str, timeout: float = 3600) -> float:
    """Run `tracker ARGS` against the bench database; returns its wall time in seconds."""
    return cli_output(db, *args, timeout=timeout)[0]


def cli_output(db: BenchDb, *args: str, timeout: float = 3600) -> tuple[float, str]:
    """Run `tracker ARGS` against the bench database; its wall time in seconds and what it printed."""
    env = {**os.environ, **db.env}
    start = time.perf_counter()
    done = subprocess.run(
        [str(VENV_BIN / "tracker"), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"tracker {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return wall, done.stdout


def cli_ok(db: BenchDb, *args: str) -> bool:
    """Whether `tracker ARGS` exits 0 (e.g. whether a command exists)."""
    env = {**os.environ, **db.env}
    return subprocess.run([str(VENV_BIN / "tracker"), *args], env=env, capture_output=True).returncode == 0


def drop(db: BenchDb) -> None:
    """Remove the benchmark database."""
    if db.app is not None:
        db.rt.db.dispose()
    if db.engine == "postgres" and db.admin_url:
        _pg_admin(db.admin_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    log(f"{db.engine}: benchmark database dropped")


def _pg_admin(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def server_version(db: BenchDb) -> str:
    with db.rt.db.engine.connect() as conn:
        if db.engine == "sqlite":
            return "SQLite " + str(conn.exec_driver_sql("select sqlite_version()").scalar())
        return str(conn.exec_driver_sql("show server_version").scalar()).split(" ")[0]
