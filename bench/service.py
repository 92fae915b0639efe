"""The tracker's service layer measured in-process (no HTTP): the same calls the API and CLI make."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from common import Timings, repeat
from generate import AS_OF_PSEUDONYM, make_case

NOTE = "Called from a new number; the landlord asked for his registration papers again."


def admin() -> Any:
    from benchenv import ADMIN

    from tracker.auth.users import Actor

    return Actor(ADMIN, "admin")


def case_ids(rt: Any, limit: int, seed: int = 7) -> list[str]:
    """A random sample of existing case ids (the same sample for a seed)."""
    from tracker.projections.tables import CaseRow

    with rt.db.read() as session:
        ids = list(session.scalars(sa.select(CaseRow.case_id).order_by(CaseRow.case_id)))
    random.Random(seed).shuffle(ids)
    return ids[:limit]


def as_of_case(rt: Any) -> str:
    from tracker.projections.tables import CaseRow

    with rt.db.read() as session:
        found = session.scalar(sa.select(CaseRow.case_id).where(CaseRow.pseudonym == AS_OF_PSEUDONYM))
    if found is None:
        raise RuntimeError(f"the data has no case called {AS_OF_PSEUDONYM!r}")
    return str(found)


def status_reads(rt: Any, ids: Sequence[str], count: int) -> Timings:
    """reading.get_case without as_of: the status read model (plus its access-log write)."""
    from tracker.services import reading

    who = admin()
    return repeat(lambda i: reading.get_case(rt, who, ids[i % len(ids)], via="bench"), count)


def as_of_reads(rt: Any, case_id: str, count: int) -> Timings:
    """reading.get_case with as_of: the case's events folded up to a past date."""
    from tracker.services import reading

    who, day = admin(), rt.today() - timedelta(days=30)
    return repeat(lambda _i: reading.get_case(rt, who, case_id, as_of=day, via="bench"), count)


def single_appends(rt: Any, ids: Sequence[str], count: int) -> Timings:
    """writing.record_event: one note per transaction, spread over existing cases."""
    from tracker.domain.commands import EventInput
    from tracker.services import writing

    who, today = admin(), rt.today()

    def one(i: int) -> None:
        event = EventInput("note_added", today, "day", {"text": NOTE})
        writing.record_event(rt, who, ids[i % len(ids)], event, source="api")

    return repeat(one, count)


def batch_lines(count: int, today: date, size: int = 50, seed: int = 11) -> list[str]:
    """Import lines of new cases with exactly `size` events each."""
    rng = random.Random(seed)
    return [json.dumps(make_case(rng, 900_000 + n, today, size)) for n in range(count)]


def batch_appends(rt: Any, lines: Sequence[str]) -> Timings:
    """transfer.import_file of one line: a new case of 50 events in one transaction."""
    from tracker.services import transfer

    return repeat(lambda i: transfer.import_file(rt, io.StringIO(lines[i])), len(lines))


def stream_reads(rt: Any, case_id: str, count: int) -> Timings:
    """reading.case_events of a 50-event case: decoded, sensitive fields opened, access logged."""
    from tracker.services import reading

    who = admin()
    return repeat(lambda _i: reading.case_events(rt, who, case_id, via="bench"), count)


def newest_case_with(rt: Any, events: int) -> str:
    """The newest case that has exactly `events` events."""
    from tracker.projections.tables import CaseRow

    with rt.db.read() as session:
        return str(
            session.scalar(
                sa.select(CaseRow.case_id).where(CaseRow.version == events).order_by(CaseRow.position.desc())
            )
        )
