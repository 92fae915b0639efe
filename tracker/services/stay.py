"""The stay planner: "if he leaves on D1 and returns on D2", answered from the case's events, recording
nothing but the read in the access log."""

from __future__ import annotations

from datetime import date
from typing import Any

from tracker.auth.users import Actor
from tracker.events.record import effective
from tracker.projections.recorded import to_recorded
from tracker.services.reading import log_access, visible_case
from tracker.services.runtime import Runtime
from tracker.stay.history import stay_plan as plan_of
from tracker.stay.plan import PlanError
from tracker.store.events import read_stream

__all__ = ["PlanError", "stay_plan"]


def stay_plan(
    rt: Runtime, actor: Actor, case_id: str, leave_on: date | None, return_on: date | None, via: str = "api"
) -> dict[str, Any]:
    """`{"id", "plan"}` for a visible case; plan is None when no stay rule counts the person's stay.

    PlanError names a date that cannot be planned with (the read is still logged)."""
    with rt.db.write() as session:
        visible_case(session, actor, case_id)
        log_access(session, rt, actor, case_id, "stay plan", via)
        stream = [to_recorded(r) for r in read_stream(session, case_id)]
    answer = plan_of(effective(stream), rt.rules.stay, rt.today(), leave_on, return_on)
    return {"id": case_id, "plan": answer}
