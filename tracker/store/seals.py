"""Keyed seals of the event chain: what a plain SHA-256 chain cannot give against whoever holds the database.

The plain `hash` of an event (tracker.store.hashing) chains its content to the one before, but anyone who
can write the database can recompute it. A seal is an HMAC-SHA-256 under the **chain key**, derived with
HKDF-SHA-256 from the installation key, which never lives in the database:

    chain key   = HKDF-SHA256(installation key, info="tracker event chain key v1")
    event seal  = HMAC(chain key, "event" | case_id | version | hash)      one per event (event_seals)
    case head   = HMAC(chain key, "head" | case_id | version | hash)       one per case (case_heads)
    store seal  = HMAC(chain key, "store" | cases | accumulator)            one row (store_seal)

An event's `hash` commits to the whole history before it, so its seal does too; the first event whose seal
fails is the first changed one. The case head records the newest version: a history cut at its end is
named. The store seal counts the cases and XORs SHA-256 of their ids (the accumulator): a case deleted
whole is found, and named when another table still mentions its id. Each seal names the key id (that of
the installation key it was derived from); `tracker keys rotate` re-seals under the new key after checking
the old seals. Seals live in tables of their own, so existing events are never rewritten.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Mapped, Session, mapped_column

from tracker.db import Base, bulk_insert
from tracker.store.tables import EventRow

EMPTY = "0" * 64


class EventSealRow(Base):
    """The keyed seal of one event."""

    __tablename__ = "event_seals"

    event_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    key_id: Mapped[str] = mapped_column(sa.String(16))
    seal: Mapped[str] = mapped_column(sa.String(64))


class CaseHeadRow(Base):
    """The keyed seal of a case's newest version and hash (replaced at each append)."""

    __tablename__ = "case_heads"

    case_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    hash: Mapped[str] = mapped_column(sa.String(64))
    key_id: Mapped[str] = mapped_column(sa.String(16))
    seal: Mapped[str] = mapped_column(sa.String(64))


class StoreSealRow(Base):
    """The keyed count of the store's cases and the XOR of their ids' SHA-256 (one row, id 1)."""

    __tablename__ = "store_seal"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    cases: Mapped[int] = mapped_column(sa.Integer)
    accumulator: Mapped[str] = mapped_column(sa.String(64))
    key_id: Mapped[str] = mapped_column(sa.String(16))
    seal: Mapped[str] = mapped_column(sa.String(64))


def chain_key(installation_key: bytes) -> bytes:
    """The chain key derived from an installation key (HKDF-SHA-256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tracker event chain key v1").derive(
        installation_key
    )


def _mac(key: bytes, *parts: object) -> str:
    return hmac.new(key, "\0".join(str(p) for p in parts).encode(), hashlib.sha256).hexdigest()


def event_seal(key: bytes, case_id: str, version: int, digest: str) -> str:
    return _mac(key, "event", case_id, version, digest)


def head_seal(key: bytes, case_id: str, version: int, digest: str) -> str:
    return _mac(key, "head", case_id, version, digest)


def store_seal(key: bytes, cases: int, accumulator: str) -> str:
    return _mac(key, "store", cases, accumulator)


def case_digest(case_id: str) -> str:
    return hashlib.sha256(b"tracker case\0" + case_id.encode()).hexdigest()


def xor(a: str, b: str) -> str:
    return f"{int(a, 16) ^ int(b, 16):064x}"


def accumulate(case_ids: Iterable[str]) -> str:
    out = 0
    for case_id in case_ids:
        out ^= int(case_digest(case_id), 16)
    return f"{out:064x}"


def seal_appended(
    session: Session,
    key: bytes,
    key_id: str,
    rows: Sequence[Any],
    new_cases: Sequence[str],
    *,
    bulk: bool = False,
) -> None:
    """Seal freshly appended events (EventRow objects or `chain` value dicts, version order per case),
    move their cases' heads, and count `new_cases` into the store seal. The caller holds the append lock.

    A store with no seal yet gets one only while it holds no other event (a new database): a database from
    before seals is sealed by `tracker seal`, after its plain chains were checked.
    """
    if not rows:
        return

    def get(row: Any, name: str) -> Any:
        return row[name] if isinstance(row, dict) else getattr(row, name)

    seals = [
        {
            "event_id": get(r, "id"),
            "case_id": get(r, "case_id"),
            "version": get(r, "version"),
            "key_id": key_id,
            "seal": event_seal(key, get(r, "case_id"), get(r, "version"), get(r, "hash")),
        }
        for r in rows
    ]
    newest: dict[str, Any] = {}
    for r in rows:
        newest[get(r, "case_id")] = r
    heads = [
        {
            "case_id": case_id,
            "version": get(r, "version"),
            "hash": get(r, "hash"),
            "key_id": key_id,
            "seal": head_seal(key, case_id, get(r, "version"), get(r, "hash")),
        }
        for case_id, r in newest.items()
    ]
    if bulk:
        bulk_insert(session, EventSealRow.__table__, seals)
        bulk_insert(session, CaseHeadRow.__table__, heads)
    else:
        session.execute(sa.insert(EventSealRow), seals)
        for head in heads:
            stored = session.get(CaseHeadRow, head["case_id"])
            if stored is None:
                session.add(CaseHeadRow(**head))
            else:
                for name, value in head.items():
                    setattr(stored, name, value)
    if not new_cases:
        return
    store = session.get(StoreSealRow, 1)
    if store is None:
        if session.scalar(sa.select(sa.func.count()).select_from(EventRow)) != len(rows):
            return  # events from before seals: `tracker seal` makes the store seal after checking them
        store = StoreSealRow(id=1, cases=0, accumulator=EMPTY, key_id=key_id, seal="")
        session.add(store)
    store.cases += len(new_cases)
    store.accumulator = xor(store.accumulator, accumulate(new_cases))
    store.key_id = key_id
    store.seal = store_seal(key, store.cases, store.accumulator)
    session.flush()


class CheckpointRow(Base):
    """A signed statement of the whole store (tracker.services.checkpoints)."""

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    statement: Mapped[str] = mapped_column(sa.Text)
    digest: Mapped[str] = mapped_column(sa.String(64))
    signature: Mapped[str] = mapped_column(sa.String(128))
    public_key: Mapped[str] = mapped_column(sa.String(64))
