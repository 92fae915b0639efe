"""The audit view of a case: the raw history with hashes, its chain check, and who read the case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from tracker.auth.tables import AccessRow
from tracker.auth.users import Actor
from tracker.services.integrity import _check_row
from tracker.services.reading import event_dict, log_access, visible_case
from tracker.services.runtime import Runtime
from tracker.store.events import read_stream
from tracker.store.hashing import GENESIS

ACCESS_SHOWN = 500


@dataclass(frozen=True)
class Access:
    at: datetime
    username: str
    action: str
    via: str


@dataclass
class CaseAudit:
    """The raw events (as the API shows them), the chain's state, and the access log."""

    id: str
    pseudonym: str
    events: list[dict[str, Any]]
    intact: bool
    problem: str | None
    checked: int
    access: list[Access]
    access_total: int
    known_on: date | None


def case_audit(rt: Runtime, actor: Actor, case_id: str, known_on: date | None = None) -> CaseAudit:
    """The audit view of a visible case; `known_on` keeps the events recorded on or before that day."""
    with rt.db.write() as session:
        case = visible_case(session, actor, case_id)
        log_access(session, rt, actor, case_id, "audit", "web")
        rows = read_stream(session, case_id)
        problem = None
        expected, previous = 1, GENESIS
        for row in rows:
            problem = _check_row(row, expected, previous)
            if problem:
                break
            expected, previous = row.version + 1, row.hash
        key = rt.case_key(session, case_id) if actor.sees_sensitive else None
        types = {r.id: r.type for r in rows}
        shown = [
            event_dict(r, key, actor.sees_sensitive, types)
            for r in rows
            if known_on is None or r.recorded_at.date() <= known_on
        ]
        total = session.scalar(
            sa.select(sa.func.count()).select_from(AccessRow).where(AccessRow.case_id == case_id)
        )
        access = [
            Access(r.at, r.username, r.action, r.via)
            for r in session.scalars(
                sa.select(AccessRow)
                .where(AccessRow.case_id == case_id)
                .order_by(AccessRow.id.desc())
                .limit(ACCESS_SHOWN)
            )
        ]
        return CaseAudit(
            id=case_id,
            pseudonym=case.pseudonym,
            events=shown,
            intact=problem is None,
            problem=problem,
            checked=len(rows),
            access=access,
            access_total=int(total or 0),
            known_on=known_on,
        )
