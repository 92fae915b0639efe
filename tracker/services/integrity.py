"""Checking the hash chains and rebuilding the read models."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.db import bulk_insert, refresh_statistics
from tracker.projections.case_status import rebuild_cases
from tracker.projections.tables import CaseRow
from tracker.services import checkpoints
from tracker.services.runtime import Runtime
from tracker.services.search import rebuild_index
from tracker.store.events import case_ids, lock_for_append
from tracker.store.hashing import GENESIS, event_hash
from tracker.store.seals import (
    CaseHeadRow,
    EventSealRow,
    StoreSealRow,
    accumulate,
    case_digest,
    event_seal,
    head_seal,
    store_seal,
    xor,
)
from tracker.store.tables import EventRow

#: Cases whose read models are rebuilt per transaction.
REBUILD_CHUNK = 500


@dataclass(frozen=True)
class Broken:
    case_id: str
    problem: str


def case_count(rt: Runtime) -> int:
    """How many cases the store holds (the length of a verify, a rebuild or a whole export)."""
    with rt.db.read() as session:
        return int(session.scalar(sa.select(sa.func.count()).where(EventRow.version == 1)) or 0)


def verify(rt: Runtime, progress: Callable[[int], None] | None = None) -> tuple[int, list[Broken]]:
    """Check every case's version sequence, hash chain and keyed seals, and the store's seal; return the
    count checked and the broken ones (a problem of the store as a whole is named by case id "store")."""
    with rt.db.read() as session:
        heads: dict[str, tuple[int, str]] = {}
        checked, broken = check_chains(session, progress, rt.chain_key_for, heads)
        checked += len(_truncated(session, broken))
        broken += check_heads(session, rt.chain_key_for, heads, {b.case_id for b in broken})
        # The latest stored checkpoint: what it saw must still be there (it names deleted cases too).
        named = {b.case_id for b in broken}
        broken += [Broken(c, p) for c, p in checkpoints.check_stored(rt, session) if c not in named]
    return checked, broken + check_attachments(rt)


def check_attachments(rt: Runtime) -> list[Broken]:
    """Every attachment's stored file must decrypt to the SHA-256 its event (in the chain) names."""
    from tracker.services.attachments import verify_files

    return [Broken(b.case_id, b.problem) for b in verify_files(rt)]


def verify_against(rt: Runtime, text: str, public_key: str | None) -> list[Broken]:
    """The store against a checkpoint file a witness kept (its signature checked first)."""
    content = checkpoints.read_file(text, public_key)
    with rt.db.read() as session:
        return [Broken(c, p) for c, p in checkpoints.compare(session, content)]


def _truncated(session: Session, broken: list[Broken]) -> list[str]:
    """Add the cases whose newest events are gone to `broken`; returns those left with no event at all."""
    # A chain cut at its end still links; the read model, written in each append's transaction,
    # remembers the version the case reached.
    top = (
        sa.select(
            EventRow.case_id,
            sa.func.max(EventRow.version).label("version"),
            sa.func.max(EventRow.position).label("position"),
        )
        .group_by(EventRow.case_id)
        .subquery()
    )
    query = (
        sa.select(CaseRow.case_id, CaseRow.version, top.c.version, CaseRow.position, top.c.position)
        .outerjoin(top, top.c.case_id == CaseRow.case_id)
        .where(
            sa.or_(
                top.c.version.is_(None), top.c.version < CaseRow.version, top.c.position != CaseRow.position
            )
        )
        .order_by(CaseRow.case_id)
    )
    named = {b.case_id for b in broken}
    empty = []
    for case_id, reached, stored, recorded_position, position in session.execute(query):
        if case_id in named:
            pass
        elif stored is None or stored < reached:
            missing = (stored or 0) + 1
            problem = f"version {missing} is missing (the case reached version {reached})"
            broken.append(Broken(case_id, problem))
        else:
            problem = f"its newest event is at position {position}, but was stored at {recorded_position}"
            broken.append(Broken(case_id, problem))
        if stored is None:
            empty.append(case_id)
    return empty


def check_chains(
    session: Session,
    progress: Callable[[int], None] | None = None,
    keys: Callable[[str], bytes | None] | None = None,
    heads: dict[str, tuple[int, str]] | None = None,
) -> tuple[int, list[Broken]]:
    """`verify` inside the caller's transaction (a restore checks the rows it is about to commit).

    With `keys` (key id -> chain key) each event's keyed seal is checked too, and `heads` is filled with
    the newest (version, hash) of every case whose chain held."""
    broken: list[Broken] = []
    checked = 0
    current: str | None = None
    expected_version, previous, position = 1, GENESIS, 0
    failed = False
    sealed_store = keys is not None and session.get(StoreSealRow, 1) is not None
    query = (
        sa.select(EventRow, EventSealRow.key_id, EventSealRow.seal)
        .outerjoin(EventSealRow, EventSealRow.event_id == EventRow.id)
        .order_by(EventRow.case_id, EventRow.version)
        .execution_options(yield_per=2000)
    )
    for row, key_id, seal in session.execute(query):
        if row.case_id != current:
            current, expected_version, previous, position, failed = row.case_id, 1, GENESIS, 0, False
            checked += 1
            if progress:
                progress(1)
        if failed:
            continue
        problem = _check_row(row, expected_version, previous)
        if problem is None and row.position <= position:
            # Positions are not hashed (the database gives them), but a case's must rise with its versions.
            problem = (
                f"version {row.version} has position {row.position}, not after version {row.version - 1}'s"
            )
        if problem is None and keys is not None:
            problem = _check_seal(row, key_id, seal, keys, sealed_store)
        if problem:
            broken.append(Broken(row.case_id, problem))
            failed = True
            if heads is not None:
                heads.pop(row.case_id, None)
        elif heads is not None:
            heads[row.case_id] = (row.version, row.hash)
        expected_version, previous, position = row.version + 1, row.hash, row.position
    return checked, broken


def _check_seal(
    row: EventRow, key_id: str | None, seal: str | None, keys: Callable[[str], bytes | None], required: bool
) -> str | None:
    if seal is None or key_id is None:
        if not required:
            return None  # a database from before seals, not sealed yet (reported for the store)
        return f"version {row.version} has no keyed seal (deleted, or the event was put in by hand)"
    key = keys(key_id)
    if key is None:
        return f"version {row.version} is sealed under installation key {key_id}, which is not given"
    if not hmac.compare_digest(seal, event_seal(key, row.case_id, row.version, row.hash)):
        return (
            f"version {row.version} was changed, replaced or moved: its keyed seal does not match "
            "(its plain hash was recomputed)"
        )
    return None


def check_heads(
    session: Session,
    keys: Callable[[str], bytes | None],
    heads: dict[str, tuple[int, str]],
    named: set[str],
) -> list[Broken]:
    """The keyed heads of the cases (a history cut at its end, a case deleted whole) and the store's seal."""
    broken: list[Broken] = []
    store = session.get(StoreSealRow, 1)
    recorded = {r.case_id: r for r in session.scalars(sa.select(CaseHeadRow))}
    for case_id, head in sorted(recorded.items()):
        key = keys(head.key_id)
        if case_id in named:
            continue
        if key is None:
            broken.append(
                Broken(case_id, f"its head is sealed under installation key {head.key_id}, not given")
            )
        elif not hmac.compare_digest(head.seal, head_seal(key, case_id, head.version, head.hash)):
            broken.append(Broken(case_id, "its keyed head does not match (changed by hand)"))
        elif case_id not in heads:
            broken.append(
                Broken(case_id, f"every event is gone: the case was deleted (it had {head.version})")
            )
        elif heads[case_id][0] < head.version:
            have = heads[case_id][0]
            broken.append(
                Broken(
                    case_id, f"versions {have + 1} to {head.version} are gone: the history was cut at its end"
                )
            )
        elif heads[case_id] != (head.version, head.hash):
            broken.append(Broken(case_id, f"its newest version {heads[case_id][0]} is not its keyed head"))
    if store is None:
        if heads or recorded:
            problem = "the store has no keyed seal: run `tracker seal` once (a database from before seals)"
            broken.append(Broken("store", problem + ", or it was deleted"))
        return broken
    for case_id in sorted(set(heads) - set(recorded) - named):
        broken.append(Broken(case_id, "it has no keyed head (deleted, or the case was put in by hand)"))
    key = keys(store.key_id)
    if key is None:
        broken.append(
            Broken("store", f"its seal is under installation key {store.key_id}, which is not given")
        )
        return broken
    if not hmac.compare_digest(store.seal, store_seal(key, store.cases, store.accumulator)):
        broken.append(Broken("store", "its keyed seal does not match (changed by hand)"))
        return broken
    present = set(heads) | named | set(recorded)
    if len(present) != store.cases or accumulate(present) != store.accumulator:
        missing = store.cases - len(present)
        gone = xor(accumulate(present), store.accumulator)
        names = [c for c in _mentioned(session) - present if case_digest(c) == gone]
        what = f"case {names[0]}" if names else f"{missing} case(s)"
        broken.append(
            Broken(
                "store",
                f"{what} deleted whole: the store sealed {store.cases} cases, {len(present)} are left",
            )
        )
    return broken


def _mentioned(session: Session) -> set[str]:
    """Case ids other tables still name (where a case deleted whole may have left its id)."""
    ids: set[str] = set()
    for table, column in (("case_keys", "case_id"), ("case_status", "case_id"), ("access_log", "case_id"),
                          ("deadlines", "case_id"), ("event_seals", "case_id")):  # fmt: skip
        ids.update(
            str(v) for v in session.execute(sa.text(f"SELECT DISTINCT {column} FROM {table}")).scalars()
        )
    return ids


def _check_row(row: EventRow, expected_version: int, previous: str) -> str | None:
    if row.version != expected_version:
        return f"version {expected_version} is missing (found {row.version})"
    if expected_version == 1 and row.type != "case_opened":
        return "version 1 is not case_opened"
    digest = event_hash(
        id=row.id,
        case_id=row.case_id,
        version=row.version,
        type=row.type,
        schema_version=row.schema_version,
        occurred_on=row.occurred_on,
        date_precision=row.date_precision,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        data=row.data,
        metadata=row.meta,
        previous=previous,
    )
    if digest != row.hash:
        return f"the hash of version {row.version} does not match its content and chain"
    return None


def rebuild(rt: Runtime, progress: Callable[[int], None] | None = None) -> int:
    """Recompute every read model from the events; returns the number of cases."""
    with rt.db.read() as session:
        ids = case_ids(session)
    for start in range(0, len(ids), REBUILD_CHUNK):
        chunk = ids[start : start + REBUILD_CHUNK]
        with rt.db.write() as session:
            # No append may land between reading a chunk's events and storing its read models.
            lock_for_append(session)
            rebuild_cases(session, chunk, rt.rules)
            rebuild_index(rt, session, chunk)
        if progress:
            progress(len(chunk))
    with rt.db.write() as session:
        refresh_statistics(session)
    return len(ids)


def seal_store(rt: Runtime) -> int:
    """Seal a database from before keyed seals: check every plain chain, then seal every event without
    a seal, each case's head and the store; returns the number of events sealed. Refused (SealRefused)
    when a chain is broken, or when the store is sealed already (sealing again would hide tampering)."""
    key = rt.chain_key_for(rt.kek_id)
    assert key is not None
    with rt.db.write() as session:
        lock_for_append(session)
        if session.get(StoreSealRow, 1) is not None:
            raise SealRefused("the store is sealed already; `tracker verify` checks it")
        _checked, broken = check_chains(session)
        if broken:
            first = broken[0]
            raise SealRefused(f"case {first.case_id}: {first.problem}; nothing was sealed")
        sealed = set(session.scalars(sa.select(EventSealRow.event_id)))
        rows = [r for r in session.scalars(sa.select(EventRow).order_by(EventRow.case_id, EventRow.version))]
        fresh = [r for r in rows if r.id not in sealed]
        bulk_insert(
            session,
            EventSealRow.__table__,
            [
                {"event_id": r.id, "case_id": r.case_id, "version": r.version, "key_id": rt.kek_id,
                 "seal": event_seal(key, r.case_id, r.version, r.hash)}
                for r in fresh
            ],
        )  # fmt: skip
        newest = {r.case_id: r for r in rows}
        session.execute(sa.delete(CaseHeadRow))
        bulk_insert(
            session,
            CaseHeadRow.__table__,
            [
                {"case_id": c, "version": r.version, "hash": r.hash, "key_id": rt.kek_id,
                 "seal": head_seal(key, c, r.version, r.hash)}
                for c, r in newest.items()
            ],
        )  # fmt: skip
        acc = accumulate(newest)
        session.add(
            StoreSealRow(id=1, cases=len(newest), accumulator=acc, key_id=rt.kek_id,
                         seal=store_seal(key, len(newest), acc))
        )  # fmt: skip
        return len(fresh)


class SealRefused(Exception):
    """The store cannot be sealed (it is already, or a chain is broken)."""


def reseal(rt: Runtime, batch_size: int = 2000) -> int:
    """Move every keyed seal under the chain key of the current installation key (`tracker keys rotate`);
    returns how many were moved. A seal is moved only when it holds under its own key: one that does not
    stays as it is, for `tracker verify` to name. Batches are transactions of their own; a rerun resumes."""
    key = rt.chain_key_for(rt.kek_id)
    assert key is not None
    moved = 0
    after = ""
    while True:
        with rt.db.write() as session:
            rows = session.execute(
                sa.select(EventSealRow, EventRow.hash)
                .join(EventRow, EventRow.id == EventSealRow.event_id)
                .where(EventSealRow.key_id != rt.kek_id, EventSealRow.event_id > after)
                .order_by(EventSealRow.event_id)
                .limit(batch_size)
            ).all()
            for seal, digest in rows:
                old = rt.chain_key_for(seal.key_id)
                if old is not None and hmac.compare_digest(
                    seal.seal, event_seal(old, seal.case_id, seal.version, digest)
                ):
                    seal.seal, seal.key_id = event_seal(key, seal.case_id, seal.version, digest), rt.kek_id
                    moved += 1
        if not rows:
            break
        after = rows[-1][0].event_id
    with rt.db.write() as session:
        lock_for_append(session)  # heads and the store seal move with appends
        for head in session.scalars(sa.select(CaseHeadRow).where(CaseHeadRow.key_id != rt.kek_id)):
            old = rt.chain_key_for(head.key_id)
            if old is not None and hmac.compare_digest(
                head.seal, head_seal(old, head.case_id, head.version, head.hash)
            ):
                head.seal, head.key_id = head_seal(key, head.case_id, head.version, head.hash), rt.kek_id
                moved += 1
        store = session.get(StoreSealRow, 1)
        if store is not None and store.key_id != rt.kek_id:
            old = rt.chain_key_for(store.key_id)
            if old is not None and hmac.compare_digest(
                store.seal, store_seal(old, store.cases, store.accumulator)
            ):
                store.seal, store.key_id = store_seal(key, store.cases, store.accumulator), rt.kek_id
                moved += 1
    return moved
