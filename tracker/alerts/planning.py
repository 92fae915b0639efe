"""Which alerts a deadline owes on a given day, and to whom: pure rules, no storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

#: Stage of the one alert the caseworkers get when a deadline passes (supervisors get daily ones).
OVERDUE = "overdue"
#: Prefix of a supervisor's daily escalation stage: "overdue:<YYYY-MM-DD>".
ESCALATION = "overdue:"
#: Prefix of a lead threshold's stage: "lead:<days>".
LEAD = "lead:"


@dataclass(frozen=True, slots=True)
class Watched:
    """An active deadline as the scan sees it."""

    key: str
    case_id: str
    kind: str
    due_on: date


@dataclass(frozen=True, slots=True)
class Owed:
    """One alert that must exist: the unique (deadline_key, stage, username) and what it shows."""

    deadline_key: str
    stage: str
    username: str
    case_id: str
    kind: str
    due_on: date
    threshold_days: int | None


def lead_threshold(lead_days: Sequence[int], days_left: int) -> int | None:
    """The most urgent lead threshold crossed with `days_left` to go (smallest L with days_left <= L)."""
    crossed = [lead for lead in lead_days if days_left <= lead]
    return min(crossed) if crossed else None


def owed(
    deadline: Watched,
    today: date,
    lead_days: Sequence[int],
    caseworkers: Sequence[str],
    supervisors: Sequence[str],
) -> list[Owed]:
    """The alerts a deadline owes today.

    Before the due date only the most urgent threshold crossed counts, so a scheduler that was down
    sends that one and not the larger ones it missed. Past the due date the caseworkers get one
    overdue alert and every supervisor one escalation per day; a supervisor who also follows the
    case gets the escalations only.
    """
    days_left = (deadline.due_on - today).days

    def alert(stage: str, username: str, threshold: int | None) -> Owed:
        d = deadline
        return Owed(d.key, stage, username, d.case_id, d.kind, d.due_on, threshold)

    if days_left >= 0:
        threshold = lead_threshold(lead_days, days_left)
        if threshold is None:
            return []
        return [alert(f"{LEAD}{threshold}", name, threshold) for name in caseworkers or supervisors]
    escalated = set(supervisors)
    once = [alert(OVERDUE, name, None) for name in caseworkers if name not in escalated]
    return once + [alert(f"{ESCALATION}{today.isoformat()}", name, None) for name in supervisors]
