"""One scheduler pass (and one mail delivery) at a time per database, across threads, processes, hosts.

Two locks: "pass" for creating alerts and "mail" for sending them. They are apart so that a delivery
never makes a pass skip its scan, while two deliveries can never send the same alert twice.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tracker.db import Database

#: PostgreSQL advisory lock keys (advisory locks are scoped to one database).
LOCK_KEYS = {"pass": 7_304_117, "mail": 7_304_118}
_memory_locks = {name: threading.Lock() for name in LOCK_KEYS}
_open_files: set[int] = set()


def _after_fork_in_child() -> None:
    # A forked child (a gunicorn worker) shares the parent's open lock files, and flock keeps a
    # lock while any copy is open: close the copies, never unlock them, so the parent's stands alone.
    for fd in list(_open_files):
        with suppress(OSError):
            os.close(fd)
    _open_files.clear()
    for name in LOCK_KEYS:
        _memory_locks[name] = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def lock_file(url: str, name: str = "pass") -> Path | None:
    """The lock file next to an SQLite database file; None for an in-memory database."""
    database = sa.make_url(url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    path = Path(database).resolve()
    return path.with_name(f"{path.name}.{name}-lock")


@contextmanager
def pass_lock(db: Database, wait: bool = True, name: str = "pass") -> Iterator[bool]:
    """Hold lock `name` ("pass" or "mail") while the block runs; yields False if busy and not `wait`."""
    if not db.sqlite:
        with _advisory(db, wait, LOCK_KEYS[name]) as held:
            yield held
        return
    path = lock_file(db.url, name)
    if path is None:
        memory = _memory_locks[name]
        got = memory.acquire(blocking=wait)
        try:
            yield got
        finally:
            if got:
                memory.release()
        return
    # flock, not fcntl's record locks: flock conflicts between two opens in one process as well,
    # so threads of one process exclude each other too. The kernel drops it if the process dies.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    _open_files.add(fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        _open_files.discard(fd)
        os.close(fd)


@contextmanager
def _advisory(db: Database, wait: bool, key: int) -> Iterator[bool]:
    # A session-level lock on a connection of its own, so that the pass may commit as often as it
    # likes; PostgreSQL releases it when the connection ends, even if this process is killed.
    with db.engine.connect() as conn:
        if wait:
            conn.execute(sa.select(sa.func.pg_advisory_lock(key)))
            held = True
        else:
            held = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar())
        conn.commit()
        try:
            yield held
        finally:
            if held:
                try:
                    conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                    conn.commit()
                except DBAPIError:
                    # A pooled connection must never keep the lock: drop it, which releases it.
                    conn.invalidate()
