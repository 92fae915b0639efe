"""The demo: four composite clients and a user of every role, dates shifted to lie in the recent past."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from importlib import resources
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.tables import UserRow
from tracker.auth.users import UserError, check_password, create_user, find_user
from tracker.events.catalogue import CATALOGUE
from tracker.projections.tables import CaseRow
from tracker.services import audit
from tracker.services.runtime import Runtime
from tracker.services.transfer import import_file
from tracker.store.tables import EventRow

DEMO_USERS = {
    "ada": "admin",
    "sam": "supervisor",
    "anna": "caseworker",
    "boris": "caseworker",
    "otto": "auditor",
}
#: One file per composite client of domain.md, named after the client.
DEMO_FILES = ("yevgeny.jsonl", "farhad.jsonl", "sparrow.jsonl", "sportsmaster.jsonl")
DEMO_PSEUDONYMS = ("Yevgeny", "Farhad", "Sparrow", "Sportsmaster")
# The newest demo event lies this many days before today.
NEWEST_AGE_DAYS = 3


def _shift_payload(type_name: str, data: dict[str, Any], delta: timedelta) -> dict[str, Any]:
    out = dict(data)
    for f in CATALOGUE[type_name].fields:
        value = out.get(f.name)
        if f.kind == "date" and isinstance(value, str):
            out[f.name] = (date.fromisoformat(value) + delta).isoformat()
    return out


def demo_lines(today: date) -> list[str]:
    """The demo cases as import lines, every date moved by the same number of days."""
    lines: list[dict[str, Any]] = []
    for name in DEMO_FILES:
        text = resources.files("tracker.demo").joinpath(name).read_text(encoding="utf-8")
        lines.extend(json.loads(line) for line in text.splitlines() if line.strip())
    newest = max(
        date.fromisoformat(e["occurred_on"]) for line in lines for e in [line["case"], *line["events"]]
    )
    delta = (today - timedelta(days=NEWEST_AGE_DAYS)) - newest
    out = []
    for line in lines:
        case = _shift_payload("case_opened", line["case"], delta)
        case["occurred_on"] = (date.fromisoformat(case["occurred_on"]) + delta).isoformat()
        events = []
        for event in line["events"]:
            shifted = dict(event)
            shifted["occurred_on"] = (date.fromisoformat(event["occurred_on"]) + delta).isoformat()
            shifted["data"] = _shift_payload(event["type"], event["data"], delta)
            events.append(shifted)
        out.append(json.dumps({"case": case, "events": events}, ensure_ascii=False))
    return out


def _real_data(session: Session, password: str) -> str | None:
    """What in the database is not the demo's, in a few words; None when there is nothing.

    Real users: any user who is not one of the demo users with the demo password. Real cases: cases
    other than the four demo clients with an event recorded by someone who is not a demo user.
    """
    users = session.execute(sa.select(UserRow.username, UserRow.role, UserRow.password_hash)).all()
    real = sorted(
        name
        for name, role, digest in users
        if DEMO_USERS.get(name) != role or not check_password(digest, password)
    )
    demo_cases = sa.select(CaseRow.case_id).where(CaseRow.pseudonym.in_(DEMO_PSEUDONYMS))
    real_case = session.scalar(
        sa.select(EventRow.case_id)
        .where(EventRow.recorded_by.not_in(list(DEMO_USERS)), EventRow.case_id.not_in(demo_cases))
        .limit(1)
    )
    found = []
    if real:
        shown = ", ".join(real[:3]) + (", ..." if len(real) > 3 else "")
        found.append(f"real users ({shown})")
    if real_case is not None:
        found.append("real cases")
    return " and ".join(found) or None


def load_demo(rt: Runtime, password: str, force: bool = False) -> tuple[list[str], int]:
    """Create the demo users and cases that are missing; returns (users created, cases imported).

    Refused (UserError) on a database with real users or cases unless `force`: the demo users'
    password is public. Existing users are never changed.
    """
    created = []
    with rt.db.write() as session:
        real = None if force else _real_data(session, password)
        if real:
            raise UserError(
                f"refusing to load the demo: this database holds {real}, and the demo adds users "
                "with a public password; run `tracker demo --force` to load it anyway"
            )
        for name, role in DEMO_USERS.items():
            if find_user(session, name) is None:
                create_user(session, name, role, password)
                audit.record(session, "operator", "user_created", name, {"role": role})
                created.append(name)
        have_cases = session.scalar(
            sa.select(sa.func.count()).select_from(CaseRow).where(CaseRow.pseudonym.in_(DEMO_PSEUDONYMS))
        )
    if have_cases:
        return created, 0
    cases, _events = import_file(rt, io.StringIO("\n".join(demo_lines(rt.today())) + "\n"))
    return created, cases
