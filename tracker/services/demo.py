"""The demo: four composite clients and a user of every role, dates shifted to lie in the recent past."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from importlib import resources
from typing import Any

import sqlalchemy as sa

from tracker.auth.users import create_user, find_user
from tracker.events.catalogue import CATALOGUE
from tracker.projections.tables import CaseRow
from tracker.services import audit
from tracker.services.runtime import Runtime
from tracker.services.transfer import import_file

DEMO_USERS = {
    "ada": "admin",
    "sam": "supervisor",
    "anna": "caseworker",
    "boris": "caseworker",
    "otto": "auditor",
}
#: One file per composite client of domain.md, named after the client.
DEMO_FILES = ("yevgeny.jsonl", "farhad.jsonl", "sparrow.jsonl", "sportsmaster.jsonl")
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


def load_demo(rt: Runtime, password: str) -> tuple[list[str], int]:
    """Create the demo users and cases that are missing; returns (users created, cases imported)."""
    created = []
    with rt.db.write() as session:
        for name, role in DEMO_USERS.items():
            if find_user(session, name) is None:
                create_user(session, name, role, password)
                audit.record(session, "operator", "user_created", name, {"role": role})
                created.append(name)
        have_cases = session.scalar(
            sa.select(sa.func.count())
            .select_from(CaseRow)
            .where(CaseRow.pseudonym.in_(["Yevgeny", "Farhad"]))
        )
    if have_cases:
        return created, 0
    cases, _events = import_file(rt, io.StringIO("\n".join(demo_lines(rt.today())) + "\n"))
    return created, cases
