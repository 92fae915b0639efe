"""Helpers for the alert, scheduler, mail and calendar tests: cheap users, cases with deadlines."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from conftest import Json, add_event, open_case

from tracker.alerts.tables import AlertRow
from tracker.auth.tables import UserRow
from tracker.auth.users import issue_token


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def at(day: date, hour: int = 6) -> datetime:
    """A moment of a day, in UTC (the scheduler's clock)."""
    return datetime.combine(day, time(hour), tzinfo=UTC)


def user(app: Any, name: str, role: str, email: str | None = None) -> Json:
    """A user with an API token, without the cost of hashing a password (it cannot sign in)."""
    rt = app.extensions["tracker"]
    with rt.db.write() as session:
        now = datetime.now(UTC)
        row = UserRow(username=name, role=role, password_hash="!", email=email, active=True, created_at=now)
        session.add(row)
        session.flush()
        token = issue_token(session, name)
    client = Json(app.test_client(), token)
    client.username = name  # type: ignore[attr-defined]
    return client


def staff(app: Any) -> dict[str, Json]:
    """ada (admin), sam (supervisor), anna and boris (caseworkers)."""
    return {
        "admin": user(app, "ada", "admin"),
        "sam": user(app, "sam", "supervisor"),
        "anna": user(app, "anna", "caseworker", "anna@example.org"),
        "boris": user(app, "boris", "caseworker", "boris@example.org"),
    }


def stay_case(
    admin: Json, today: date, until: date, worker: str | None = "anna", name: str = "Sparrow", **fields: Any
) -> str:
    """A case followed by `worker` (none: nobody), with a stay in KZ valid until `until`."""
    opened = (today - timedelta(days=40)).isoformat()
    case = open_case(admin, name, occurred_on=opened, **fields)
    if worker:
        add_event(admin, case, "caseworker_assigned", opened, {"username": worker})
    add_event(
        admin,
        case,
        "stay_permitted",
        (today - timedelta(days=30)).isoformat(),
        {"country": "KZ", "kind": "visa_free", "valid_until": until.isoformat()},
    )
    return case


def stored_alerts(rt: Any, case_id: str | None = None) -> list[tuple[str, str, int | None]]:
    """(username, stage, threshold_days) of the stored alerts, sorted."""
    query = sa.select(AlertRow.username, AlertRow.stage, AlertRow.threshold_days)
    if case_id:
        query = query.where(AlertRow.case_id == case_id)
    with rt.db.read() as session:
        return sorted(tuple(r) for r in session.execute(query))
