"""The case list and the case page need few SQL queries, whatever the number of cases or events."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from browser.webkit import sign_in, signed_in, text

from tracker.services.transfer import import_file

LIMIT = 15


@contextmanager
def counted(engine: sa.Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def _case(pseudonym: str, events: list[dict]) -> str:
    case = {
        "pseudonym": pseudonym,
        "citizenship": "RU",
        "category": "deserter",
        "occurred_on": "2022-01-01",
        "legal_name": f"Name of {pseudonym}",
    }
    return json.dumps({"case": case, "events": events})


def _events(count: int) -> list[dict]:
    kinds = [
        ("note_added", {"text": "a note"}),
        ("contact_made", {"channel": "signal"}),
        ("relocated", {"country": "KZ", "city": "Astana", "address": "somewhere"}),
        ("stay_extended", {"country": "KZ", "valid_until": "2031-01-01"}),
        ("threat_reported", {"kind": "calls", "description": "calls at night"}),
        ("event_corrected", {"event_id": "#3", "data": {"text": "a better note"}, "reason": "typo"}),
    ]
    out = [{"type": "caseworker_assigned", "occurred_on": "2022-01-02", "data": {"username": "anna"}}]
    for i in range(count - len(out)):
        type_, data = kinds[i % len(kinds)]
        out.append({"type": type_, "occurred_on": f"2022-{1 + i % 12:02d}-{1 + i % 28:02d}", "data": data})
    return out


def test_a_page_of_fifty_cases_takes_few_queries(sqlite_app):
    rt = sqlite_app.extensions["tracker"]
    signed_in(sqlite_app, "anna", "caseworker")
    lines = [_case(f"Case {i:03d}", _events(3)) for i in range(60)]
    import_file(rt, io.StringIO("\n".join(lines) + "\n"))
    client = signed_in(sqlite_app, "sam", "supervisor")
    with counted(rt.db.engine) as statements:
        page = text(client.get("/cases"))
    assert len(re.findall(r'<td><a href="/cases/', page)) == 50
    assert len(statements) < LIMIT, statements


def test_a_case_of_two_hundred_events_takes_few_queries(sqlite_app):
    rt = sqlite_app.extensions["tracker"]
    signed_in(sqlite_app, "anna", "caseworker")
    import_file(rt, io.StringIO(_case("Busy", _events(199)) + "\n"))
    client = sqlite_app.test_client()
    assert sign_in(client, "anna").status_code == 302
    case_id = re.search(r'href="/cases/([0-9a-f-]{36})"', text(client.get("/cases"))).group(1)
    for path in (f"/cases/{case_id}", f"/cases/{case_id}/audit", "/"):
        with counted(rt.db.engine) as statements:
            page = text(client.get(path))
        assert len(statements) < LIMIT, (path, statements)
        if path == f"/cases/{case_id}":
            assert len(re.findall(r'<li class="event ', page)) == 200
            assert "calls at night" in page
