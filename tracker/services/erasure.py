"""Erasure: destroy a case's data key and record that it was done."""

from __future__ import annotations

import sqlalchemy as sa

from tracker.auth.users import Actor
from tracker.domain.commands import CaseContext, EventInput
from tracker.events.catalogue import validate_data
from tracker.projections.tables import CaseRow
from tracker.services.runtime import Forbidden, NotFound, Runtime
from tracker.services.writing import append_checked, case_context
from tracker.store.events import head, lock_for_append
from tracker.store.tables import CaseKeyRow


def erase_case(rt: Runtime, actor: Actor, case_id: str, reason: str, *, source: str = "cli") -> int:
    """Destroy the case key so every sensitive field is unreadable for good; returns the new version."""
    if actor.role != "admin":
        raise Forbidden("only admins erase personal data")
    data = validate_data("personal_data_erased", {"reason": reason})
    with rt.db.write() as session:
        lock_for_append(session)
        case = session.get(CaseRow, case_id)
        current = head(session, case_id)
        if case is None or current is None:
            raise NotFound(case_id)
        session.execute(sa.delete(CaseKeyRow).where(CaseKeyRow.case_id == case_id))
        ctx: CaseContext = case_context(session, case_id, current[0], case.state)
        event = EventInput("personal_data_erased", rt.today(), "day", data)
        (row,) = append_checked(rt, session, actor, case_id, [event], ctx, None, source=source)
        return row.version
