"""The peer's own virtual environment (bench/.peer-venv) and running peer.py in it."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from typing import Any

import sqlalchemy as sa
from common import BENCH_DIR, OUT_DIR, log

PEER_VENV = BENCH_DIR / ".peer-venv"
# psycopg's binary build, as in the tracker's environment, so both use the same libpq build.
REQUIREMENTS = ("eventsourcing[postgres]==9.5.6", "psycopg[binary]")


def python() -> str:
    """The peer venv's interpreter, creating the venv and installing the peer on first use."""
    exe = PEER_VENV / "bin" / "python"
    if not exe.exists():
        log(f"creating the peer's environment in {PEER_VENV}")
        venv.EnvBuilder(with_pip=True, clear=True).create(PEER_VENV)
    check = subprocess.run([str(exe), "-c", "import eventsourcing.postgres, psycopg"], capture_output=True)
    if check.returncode != 0:
        log("installing eventsourcing into the peer's environment")
        subprocess.run([str(exe), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True, stdout=sys.stderr)
    return str(exe)


def run_peer(engine: str, url: str, singles: int, batches: int, reads: int) -> dict[str, Any]:
    """The peer's timings on the bench database of `engine` (PostgreSQL) or a file beside it (SQLite)."""
    args = [
        python(),
        str(BENCH_DIR / "peer.py"),
        "--engine",
        engine,
        "--singles",
        str(singles),
        "--batches",
        str(batches),
        "--reads",
        str(reads),
    ]
    if engine == "sqlite":
        path = OUT_DIR / "peer.db"
        for suffix in ("", "-wal", "-shm"):
            OUT_DIR.joinpath(path.name + suffix).unlink(missing_ok=True)
        args += ["--path", str(path)]
    else:
        u = sa.make_url(url)
        args += [
            "--dbname",
            str(u.database),
            "--host",
            u.host or "127.0.0.1",
            "--port",
            str(u.port or 5432),
            "--user",
            u.username or "postgres",
            "--password",
            u.password or "",
        ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"peer.py failed: {done.stderr.strip()[-1500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
