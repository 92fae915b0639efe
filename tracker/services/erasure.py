"""Erasure: destroy a case's data key, so that no copy of it opens again, and record that it was done."""

from __future__ import annotations

import logging
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.users import Actor
from tracker.crypto.codec import CryptoError
from tracker.crypto.keyring import Keyring
from tracker.domain.commands import CaseContext, EventInput
from tracker.events.catalogue import validate_data
from tracker.projections.tables import CaseRow
from tracker.services import audit
from tracker.services.attachments import delete_case_files
from tracker.services.runtime import Forbidden, NotFound, Runtime
from tracker.services.writing import append_checked, case_context
from tracker.store.events import erased_cases, head, lock_for_append
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


class ErasureIncomplete(Exception):
    """The erasure stands (key deleted, event appended), but a step after it did not finish."""

    def __init__(self, versions: dict[str, int], message: str) -> None:
        super().__init__(message)
        self.versions = versions
        self.version = next(iter(versions.values()))


class WalNotEmptied(ErasureIncomplete):
    """SQLite's write-ahead log still holds the old key page: readers kept the checkpoint from
    emptying it."""

    def __init__(self, versions: dict[str, int]) -> None:
        super().__init__(versions, WAL_NOT_EMPTIED)


@dataclass
class Erased:
    """What an erasure did: each case's new version, and the steps left to the operator."""

    versions: dict[str, int]
    notes: list[str] = field(default_factory=list)


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
    """Destroy the case key so every sensitive field is unreadable for good; returns the new version."""
    done = erase_cases(rt, actor, [case_id], reason, source=source, address=address, confirm=confirm)
    return done.versions[case_id]


def erase_cases(
    rt: Runtime,
    actor: Actor,
    case_ids: list[str],
    reason: str,
    *,
    source: str = "cli",
    address: str | None = None,
    confirm: str | None = None,
) -> Erased:
    """Erase the personal data of every case given, all or none; one keyring change for all of them.

    In one transaction each key row is deleted and `personal_data_erased` appended. Then the keyring
    punctures every erased case's leaf, so no copy of the wrapped key (table file, WAL, backup) opens
    any more, and the database drops what it can of the old rows: on SQLite secure_delete and a
    truncating checkpoint (WalNotEmptied when readers keep it from finishing), on PostgreSQL
    VACUUM FULL of case_keys and a CHECKPOINT (their notes say what to run if they could not).
    """
    if actor.role != "admin":
        raise Forbidden("only admins erase personal data")
    if not case_ids:
        raise ValueError("no case to erase")
    data = validate_data("personal_data_erased", {"reason": reason})
    rt.keyring()  # refuses, before anything changes, in a process that does not hold the keyring
    versions: dict[str, int] = {}
    legacy: list[str] = []
    with rt.db.write() as session:
        lock_for_append(session)
        for case_id in dict.fromkeys(case_ids):
            version, was_legacy = erase_in(rt, session, actor, case_id, data, source, address, confirm)
            versions[case_id] = version
            if was_legacy:
                legacy.append(case_id)
    try:
        finish_erasures(rt)
    except (OSError, CryptoError) as exc:
        log.error("keyring not updated after erasing %s: %s", ", ".join(versions), exc)
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ErasureIncomplete(
            versions,
            f"the erasure is recorded, but the keyring {rt.keyring_file.path} could not be written "
            f"({why}): old copies of the key still open until it is; fix that and run "
            "`tracker keys rotate`",
        ) from None
    done = Erased(versions)
    # The key is gone, so the files cannot be opened any more; they go too.
    done.notes += delete_case_files(rt, list(versions))
    if legacy:
        done.notes.append(
            f"{len(legacy)} of these keys were wrapped before keyrings, under the installation key alone: "
            "old copies of them (database files, WAL, backups) open until the installation key is "
            "rotated and the old one destroyed (docs/keys.md)"
        )
    if rt.db.sqlite:
        if not checkpoint(rt):
            log.warning("write-ahead log busy: the old key pages go at the next checkpoint")
            raise WalNotEmptied(versions)
    else:
        done.notes += vacuum_postgres(rt)
    for note in done.notes:
        log.warning("after erasing %s: %s", ", ".join(versions), note)
    return done


def erase_in(
    rt: Runtime,
    session: Session,
    actor: Actor,
    case_id: str,
    data: dict[str, Any],
    source: str,
    address: str | None = None,
    confirm: str | None = None,
) -> tuple[int, bool]:
    """Delete the case's key row and append `personal_data_erased`, in the caller's transaction
    (which holds the append lock); returns the new version and whether the key was from before keyrings.
    """
    case = session.get(CaseRow, case_id)
    current = head(session, case_id)
    if case is None or current is None:
        raise NotFound(case_id)
    if confirm is not None and _normal(confirm) != _normal(case.pseudonym):
        raise NotConfirmed("the confirmation is not the case's pseudonym")
    row = session.get(CaseKeyRow, case_id)
    if row is None:
        raise AlreadyErased(f"the personal data of case {case_id} was already erased")
    legacy = row.keyring is None
    session.delete(row)
    session.flush()
    ctx: CaseContext = case_context(session, case_id, current[0], case.state)
    event = EventInput("personal_data_erased", rt.today(), "day", data)
    (added,) = append_checked(rt, session, actor, case_id, [event], ctx, None, source=source)
    audit.record(session, actor.username, "erasure", case_id, {"version": added.version}, address)
    return added.version, legacy


def finish_erasures(rt: Runtime) -> int:
    """Puncture the keyring for every erased case it still derives a leaf for; returns how many.

    Erasure does it at once; this repairs an erasure whose keyring step was cut off (a crash).
    """
    with rt.db.read() as session:
        erased = erased_cases(session)
    if not erased:
        return 0
    when = rt.now().astimezone(UTC).isoformat(timespec="seconds")
    punctured = 0

    def change(ring: Keyring) -> bool:
        nonlocal punctured
        for case_id in erased:
            if case_id not in ring.erased or ring.leaf(case_id) is not None:
                ring.puncture(case_id, when)
                punctured += 1
        return punctured > 0

    rt.keyring()  # made if there is none yet: the ledger of erasures lives there too
    rt.keyring_file.update(change)
    return punctured


def vacuum_postgres(rt: Runtime) -> list[str]:
    """Rewrite case_keys without its dead rows and checkpoint; what could not be done, as notes."""
    notes: list[str] = []
    with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        owner = conn.execute(sa.text(_MAY_VACUUM)).scalar()
        if owner:
            # At most 5 s in the lock queue, where it would hold up every reader of a case key.
            conn.exec_driver_sql("SET lock_timeout = '5s'")
            try:
                conn.exec_driver_sql("VACUUM (FULL) case_keys")
            except sa.exc.DBAPIError as exc:
                log.warning("VACUUM FULL case_keys failed: %s", exc.orig)
                owner = False
            finally:
                conn.exec_driver_sql("RESET lock_timeout")  # the connection goes back to the pool
        if not owner:
            notes.append(
                "run `VACUUM (FULL) case_keys;` as the table's owner, once no transaction holds the "
                "table, to drop the old rows"
            )
        try:
            conn.exec_driver_sql("CHECKPOINT")
        except sa.exc.DBAPIError:
            notes.append("run `CHECKPOINT;` as a superuser (or a member of pg_checkpoint)")
    return notes


_MAY_VACUUM = (
    "SELECT pg_has_role(current_user, c.relowner, 'MEMBER') "
    "OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
    "FROM pg_class c WHERE c.oid = 'case_keys'::regclass"
)


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
