"""A supervisor in a real browser: each overdue deadline's caseworker, the filter by caseworker, the load."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow

pytestmark = pytest.mark.browser


def _assigned(rt) -> dict[str, str]:
    """Each case's pseudonym -> its caseworkers as the dashboard writes them, from the tables."""
    with rt.db.read() as session:
        rows = session.execute(
            sa.select(CaseRow.pseudonym, AssignmentRow.username)
            .join(AssignmentRow, AssignmentRow.case_id == CaseRow.case_id)
            .order_by(AssignmentRow.username)
        ).all()
    found: dict[str, list[str]] = {}
    for pseudonym, name in rows:
        found.setdefault(pseudonym, []).append(name)
    return {pseudonym: ", ".join(names) for pseudonym, names in found.items()}


def _overdue_count(rt) -> int:
    with rt.db.read() as session:
        return int(
            session.scalar(
                sa.select(sa.func.count())
                .select_from(DeadlineRow)
                .where(DeadlineRow.active.is_(True), DeadlineRow.due_on < rt.today())
            )
        )


def _rows(page, table: str) -> list[tuple[str, str]]:
    """(case, caseworker) of each row of a table of the dashboard, as the browser shows them."""
    return page.evaluate(
        f"[...document.querySelectorAll('#{table} tbody tr')]"
        ".map(r => [r.querySelector('td:nth-child(3)').innerText.trim(),"
        " r.querySelector('td.caseworker').innerText.trim()])"
    )


def test_a_supervisor_sees_each_overdue_deadlines_caseworker(page, live, sign_in):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "sam")
    page.goto("/")
    assert page.locator("#overdue-everyone th").nth(4).inner_text() == "Caseworker"
    rows = _rows(page, "overdue-everyone")
    assigned = _assigned(live.rt)
    assert len(rows) == _overdue_count(live.rt) > 0
    assert all(worker == assigned.get(case, "nobody") for case, worker in rows), rows
    # The column is on screen, not cut off or pushed out of the card.
    for cell in page.locator("#overdue-everyone td.caseworker").all():
        box = cell.bounding_box()
        assert box and box["width"] > 0 and box["x"] + box["width"] <= 1280
    assert page.locator("#upcoming-everyone td.caseworker").count() > 0
    assert page.locator("#caseworker-load tbody tr").count() >= 2

    load = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#caseworker-load tbody tr')]"
        ".map(r => [r.cells[0].innerText.trim(), Number(r.cells[2].innerText)]))"
    )
    page.select_option("#d-caseworker", "boris")
    page.click("#caseworker-filter button[type=submit]")
    page.wait_for_url("**/?caseworker=boris")
    boris = _rows(page, "overdue-everyone")
    assert all("boris" in worker for _, worker in boris) and len(boris) == load["boris"]
    assert page.locator("#d-caseworker").input_value() == "boris"
    page.select_option("#d-caseworker", "anna")
    page.click("#caseworker-filter button[type=submit]")
    page.wait_for_url("**/?caseworker=anna")
    anna = _rows(page, "overdue-everyone")
    assert anna and all("anna" in worker for _, worker in anna) and len(anna) == load["anna"]
