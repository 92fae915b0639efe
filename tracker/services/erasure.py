"""Erasure: destroy a case's data key and record that it was done."""

from __future__ import annotations

import logging
import time
import unicodedata

import sqlalchemy as sa

from tracker.auth.users import Actor
from tracker.domain.commands import CaseContext, EventInput
from tracker.events.catalogue import validate_data
from tracker.projections.tables import CaseRow
from tracker.services import audit
from tracker.services.runtime import Forbidden, NotFound, Runtime
from tracker.services.writing import append_checked, case_context
from tracker.store.events import head, lock_for_append
from tracker.store.tables import CaseKeyRow

log = logging.getLogger(__name__)


class AlreadyErased(Exception):
    """The case's personal data was erased before; there is no key left to destroy."""


class NotConfirmed(Exception):
    """The confirmation typed is not the case's pseudonym; nothing was erased."""


WAL_NOT_EMPTIED = (
    "the erasure is recorded, but other connections are reading: the key's bytes may remain in the "
    "write-ahead log until a checkpoint succeeds; run `tracker db checkpoint` once they are done"
)


class WalNotEmptied(Exception):
    """The erasure stands (key deleted, event appended), but SQLite's write-ahead log still holds
    the old key page: readers kept the checkpoint from emptying it."""

    def __init__(self, version: int) -> None:
        super().__init__(WAL_NOT_EMPTIED)
        self.version = version


def erase_case(
    rt: Runtime,
    actor: Actor,
    case_id: str,
    reason: str,
    *,
    source: str = "cli",
    address: str | None = None,
    confirm: str | None = None,
) -> int:
    """Destroy the case key so every sensitive field is unreadable for good; returns the new version.

    The key row is deleted (SQLite's secure_delete zeroes its bytes) and, on SQLite, the write-ahead
    log is checkpointed and truncated so that no older copy of the page stays on disk. Raises
    WalNotEmptied (carrying the new version) when open readers keep the log from being emptied.
    """
    if actor.role != "admin":
        raise Forbidden("only admins erase personal data")
    data = validate_data("personal_data_erased", {"reason": reason})
    with rt.db.write() as session:
        lock_for_append(session)
        case = session.get(CaseRow, case_id)
        current = head(session, case_id)
        if case is None or current is None:
            raise NotFound(case_id)
        if confirm is not None and _normal(confirm) != _normal(case.pseudonym):
            raise NotConfirmed("the confirmation is not the case's pseudonym")
        deleted = session.execute(sa.delete(CaseKeyRow).where(CaseKeyRow.case_id == case_id))
        if deleted.rowcount == 0:  # type: ignore[attr-defined]  # Session.execute says Result; DML gives a CursorResult
            raise AlreadyErased(f"the personal data of case {case_id} was already erased")
        ctx: CaseContext = case_context(session, case_id, current[0], case.state)
        event = EventInput("personal_data_erased", rt.today(), "day", data)
        (row,) = append_checked(rt, session, actor, case_id, [event], ctx, None, source=source)
        audit.record(session, actor.username, "erasure", case_id, {"version": row.version}, address)
        version = row.version
    if not checkpoint(rt):
        log.warning("write-ahead log busy: case %s's old key page goes at the next checkpoint", case_id)
        raise WalNotEmptied(version)
    return version


def _normal(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip())


def checkpoint(rt: Runtime, wait: float = 3.0) -> bool:
    """Move every page of SQLite's write-ahead log into the database and empty the log.

    Tries for about `wait` seconds, each try waiting briefly for readers; returns False when they
    kept it from finishing (the next checkpoint then does it). On PostgreSQL there is nothing to do
    here (see docs/security.md).
    """
    if not rt.db.sqlite:
        return True
    deadline = time.monotonic() + wait
    while True:
        raw = rt.db.engine.raw_connection()
        try:
            cur = raw.cursor()
            # A short busy timeout: the connection's usual 30 s per try would hold the caller for
            # minutes. The raw connection runs in autocommit: a checkpoint cannot run inside a
            # transaction.
            cur.execute("PRAGMA busy_timeout=200")
            try:
                busy = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            finally:
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()
        finally:
            raw.close()
        if not busy:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
