"""Installation key rotation: re-wrap every case key under the current key and keyring, batch by batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from tracker.auth import second_factor
from tracker.auth.users import Actor
from tracker.config import key_fingerprint
from tracker.crypto.codec import CryptoError
from tracker.services import audit, integrity
from tracker.services.erasure import finish_erasures
from tracker.services.runtime import Forbidden, Runtime
from tracker.services.search import rebuild_search_index
from tracker.store import installation
from tracker.store.events import erased_cases
from tracker.store.tables import CaseKeyRow


@dataclass(frozen=True)
class KeyCount:
    """How many case keys are wrapped under one installation key, and whether this process holds it."""

    kek_id: str
    cases: int
    current: bool
    known: bool


def key_status(rt: Runtime) -> list[KeyCount]:
    """Case keys per installation key id; the current key is listed even when it wraps none yet."""
    with rt.db.read() as session:
        counts = dict(
            session.execute(sa.select(CaseKeyRow.kek_id, sa.func.count()).group_by(CaseKeyRow.kek_id))
            .tuples()
            .all()
        )
    counts.setdefault(rt.kek_id, 0)
    return [
        KeyCount(kid, int(n), kid == rt.kek_id, kid in rt.known_kek_ids)
        for kid, n in sorted(counts.items(), key=lambda item: (item[0] != rt.kek_id, item[0]))
    ]


def outside_keyring(rt: Runtime) -> dict[str | None, int]:
    """Case keys not under this installation's keyring, per keyring id (None: from before keyrings)."""
    mine = rt.keyring_file.current()
    with rt.db.read() as session:
        query = sa.select(CaseKeyRow.keyring, sa.func.count()).group_by(CaseKeyRow.keyring)
        if mine is not None:
            query = query.where(sa.or_(CaseKeyRow.keyring.is_(None), CaseKeyRow.keyring != mine.id))
        return {ring: int(n) for ring, n in session.execute(query)}


def erasures_not_in_keyring(rt: Runtime) -> int:
    """Erased cases this process's keyring does not know of (another host's copy, a cut-off erasure)."""
    ring = rt.keyring_file.current()
    with rt.db.read() as session:
        erased = erased_cases(session)
    return sum(1 for c in erased if ring is None or c not in ring.erased or ring.leaf(c) is not None)


def _stale(rt: Runtime, keyring: str) -> sa.ColumnElement[bool]:
    return sa.or_(CaseKeyRow.kek_id != rt.kek_id, CaseKeyRow.keyring.is_(None), CaseKeyRow.keyring != keyring)


def pending(rt: Runtime) -> int:
    """Case keys not yet wrapped under the current installation key and keyring."""
    with rt.db.read() as session:
        return int(session.scalar(sa.select(sa.func.count()).where(_stale(rt, rt.keyring_id))) or 0)


def rotate(
    rt: Runtime, actor: Actor, batch_size: int = 200, progress: Callable[[int], None] | None = None
) -> int:
    """Re-wrap every case key under the current installation key; returns how many were re-wrapped.

    Keys from before keyrings are moved under the keyring as well. Each batch is its own transaction,
    so an interrupted run leaves every key wrapped either the old or the new way, and running it
    again finishes the work. Events are not touched.
    """
    if actor.role != "admin":
        raise Forbidden("only admins rotate keys")
    if batch_size < 1:
        raise ValueError("the batch size must be at least 1")
    before = key_status(rt)
    missing = [c for c in before if not c.known and c.cases]
    if missing:
        names = ", ".join(f"{c.kek_id} ({c.cases} cases)" for c in missing)
        raise CryptoError(
            f"case keys are wrapped under installation keys this process does not hold: {names}; "
            "add them to TRACKER_OLD_DATA_KEYS; nothing was changed"
        )
    ring = rt.keyring_id
    foreign = {r: n for r, n in outside_keyring(rt).items() if r is not None}
    if foreign:
        names = ", ".join(f"{r} ({n} cases)" for r, n in sorted(foreign.items()))
        raise CryptoError(
            f"case keys are under keyrings other than {ring} at {rt.keyring_file.path}: {names}; "
            "nothing was changed"
        )
    finish_erasures(rt)
    done = 0
    while True:
        with rt.db.write() as session:
            rows = session.execute(
                sa.select(CaseKeyRow.case_id, CaseKeyRow.wrapped, CaseKeyRow.kek_id, CaseKeyRow.keyring)
                .where(_stale(rt, ring))
                .order_by(CaseKeyRow.case_id)
                .limit(batch_size)
            ).all()
            for case_id, wrapped, old_id, old_ring in rows:
                key = rt.unwrap(case_id, wrapped, old_id, old_ring)
                # The old ids in the condition: a row erased or re-wrapped meanwhile is left alone.
                same_ring = CaseKeyRow.keyring.is_not_distinct_from(old_ring)
                session.execute(
                    sa.update(CaseKeyRow)
                    .where(CaseKeyRow.case_id == case_id, CaseKeyRow.kek_id == old_id, same_ring)
                    .values(wrapped=rt.wrap(case_id, key), kek_id=rt.kek_id, keyring=ring)
                )
        if not rows:
            break
        done += len(rows)
        if progress:
            progress(len(rows))
    # The keyed seals of the event chain follow (checked under the old key, then sealed under the new).
    chain = integrity.reseal(rt)
    with rt.db.write() as session:
        # Second-factor secrets are sealed by the installation key too: none may stay under the old one.
        resealed = second_factor.reseal_all(session, rt)
        audit.record(
            session,
            actor.username,
            "key_rotation",
            rt.kek_id,
            {
                "rewrapped": done,
                "second_factor_secrets": resealed,
                "chain_seals": chain,
                "from": sorted(c.kek_id for c in before if not c.current and c.cases),
            },
        )
        # Every case key is under the current key: a server holding only an old key now refuses to start.
        installation.replace_fingerprint(session, key_fingerprint(rt.kek), rt.now())
    # The blind index is keyed by a key derived from the installation key: recompute it under the new one.
    rebuild_search_index(rt)
    return done
