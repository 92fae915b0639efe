"""The supervisor's dashboard: the organization's overdue and upcoming deadlines with their caseworkers,
a filter by caseworker, and each caseworker's load."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from browser.webkit import sign_in, text
from corekit import record

from tracker.auth.users import Actor
from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow

SAM = Actor("sam", "supervisor")
ROW = re.compile(
    r"<tr class=\"(?:overdue|open)\">\s*<td>([^<]*)</td><td>.*?</td>\s*<td><a [^>]*>([^<]*)</a></td>\s*"
    r"<td>.*?</td>\s*<td class=\"caseworker\">([^<]*)</td>",
    re.S,
)


def client_of(app: Any, name: str) -> Any:
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


def section(page: str, name: str) -> str:
    return page.split(f'id="{name}"')[1].split("</section>")[0]


def expected(app: Any, overdue: bool, only: str | None = None) -> list[tuple[str, str, str]]:
    """(due, case, caseworkers) of the open deadlines, read straight from the tables."""
    rt = app.extensions["tracker"]
    today = rt.today()
    with rt.db.read() as session:
        assigned: dict[str, list[str]] = {}
        for case_id, name in session.execute(
            sa.select(AssignmentRow.case_id, AssignmentRow.username).order_by(AssignmentRow.username)
        ):
            assigned.setdefault(case_id, []).append(name)
        rows = session.execute(
            sa.select(DeadlineRow.due_on, DeadlineRow.key, DeadlineRow.case_id, CaseRow.pseudonym)
            .join(CaseRow, CaseRow.case_id == DeadlineRow.case_id)
            .where(DeadlineRow.active.is_(True))
            .order_by(DeadlineRow.due_on, DeadlineRow.key)
        ).all()
    found = []
    for due, _key, case_id, pseudonym in rows:
        late = due < today
        if late != overdue or (not overdue and due > today + timedelta(days=14)):
            continue
        names = assigned.get(case_id, [])
        if only is None or only in names:
            found.append((due.isoformat(), pseudonym, ", ".join(names) or "nobody"))
    return found


def shown(page: str, name: str) -> list[tuple[str, str, str]]:
    return [tuple(html.unescape(cell).strip() for cell in row) for row in ROW.findall(section(page, name))]


def test_a_supervisor_sees_each_overdue_deadlines_caseworker(demo_app: Any) -> None:
    page = text(client_of(demo_app, "sam").get("/"))
    overdue = expected(demo_app, overdue=True)
    assert overdue and any(names != "nobody" for _, _, names in overdue), "the demo has overdue deadlines"
    assert "<th>Caseworker</th>" in section(page, "overdue-everyone")
    assert shown(page, "overdue-everyone") == overdue
    assert shown(page, "upcoming-everyone") == expected(demo_app, overdue=False)


def share_with_boris(app: Any, pseudonym: str) -> None:
    """Assign boris as well to the demo's case of that name (the demo gives him no deadlines)."""
    rt = app.extensions["tracker"]
    with rt.db.read() as session:
        case_id = session.scalar(sa.select(CaseRow.case_id).where(CaseRow.pseudonym == pseudonym))
    record(rt, case_id, "caseworker_assigned", rt.today().isoformat(), SAM, username="boris")


def test_the_organizations_deadlines_filter_by_caseworker(demo_app: Any) -> None:
    share_with_boris(demo_app, "Sportsmaster")
    sam = client_of(demo_app, "sam")
    everyone = text(sam.get("/"))
    assert ("2026-07-26", "Sportsmaster", "anna, boris") in shown(everyone, "overdue-everyone")
    boris = shown(text(sam.get("/?caseworker=boris")), "overdue-everyone")
    assert [case for _, case, _ in boris] == ["Sportsmaster"]
    for name in ("anna", "boris"):
        page = text(sam.get(f"/?caseworker={name}"))
        assert shown(page, "overdue-everyone") == expected(demo_app, True, name)
        assert shown(page, "upcoming-everyone") == expected(demo_app, False, name)
        assert f'<option value="{name}" selected>' in page

    for query, message in (
        ("nobody-here", "no caseworker is called “nobody-here”"),
        ("A B", "must be a user name"),
    ):
        got = sam.get(f"/?caseworker={query}")
        assert got.status_code == 400
        assert message in html.unescape(section(text(got), "organization"))
        assert shown(text(got), "overdue-everyone") == expected(demo_app, True)  # unfiltered, not empty


def test_a_supervisor_sees_each_caseworkers_load(demo_app: Any) -> None:
    share_with_boris(demo_app, "Farhad")
    page = text(client_of(demo_app, "sam").get("/"))
    loads = re.findall(
        r"<td><a [^>]*>([^<]*)</a></td>\s*<td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>",
        section(page, "caseworker-load"),
    )
    rt = demo_app.extensions["tracker"]
    with rt.db.read() as session:
        open_cases = {
            name: count
            for name, count in session.execute(
                sa.select(AssignmentRow.username, sa.func.count())
                .join(CaseRow, CaseRow.case_id == AssignmentRow.case_id)
                .where(CaseRow.state == "open")
                .group_by(AssignmentRow.username)
            )
        }
    by_name = {name: (int(a), int(b), int(c)) for name, a, b, c in loads}
    assert {"anna", "boris"} <= set(by_name)
    for name in ("anna", "boris"):
        overdue = len(expected(demo_app, True, name))
        upcoming = len(expected(demo_app, False, name))
        assert by_name[name] == (open_cases.get(name, 0), overdue, upcoming)
    assert by_name["anna"][1] > 0 and by_name["boris"][1:] == (1, 1)  # Farhad's, counted for both


def test_caseworkers_see_neither_the_organizations_deadlines_nor_the_loads(demo_app: Any) -> None:
    page = text(client_of(demo_app, "anna").get("/?caseworker=boris"))
    for name in ("organization", "overdue-everyone", "upcoming-everyone", "caseworker-load"):
        assert f'id="{name}"' not in page


def test_the_supervisors_tables_in_russian(demo_app: Any) -> None:
    sam = client_of(demo_app, "sam")
    page = html.unescape(text(sam.get("/?lang=ru")))
    assert "<th>Куратор</th>" in section(page, "overdue-everyone")
    assert "Сроки всех дел в ближайшие 14 дней" in page and "Нагрузка кураторов" in page
    got = sam.get("/?caseworker=nobody-here&lang=ru")
    assert got.status_code == 400 and "куратора с именем «nobody-here» нет" in html.unescape(text(got))
