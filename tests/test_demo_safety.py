"""`tracker demo` refuses a database that holds real users or real cases, unless forced on purpose."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from conftest import PASSWORD
from corekit import new_case

from tracker.auth.tables import UserRow
from tracker.auth.users import Actor, create_user
from tracker.cli import cli
from tracker.projections.tables import CaseRow

DEMO = "demo-password-2024"


def run(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(cli, ["demo", "--password", DEMO, *args])


def names(rt: Any) -> set[str]:
    with rt.db.read() as session:
        return set(session.scalars(sa.select(UserRow.username)))


def cases(rt: Any) -> int:
    with rt.db.read() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(CaseRow)))


def test_a_database_with_real_users_is_refused(app: Any, rt: Any) -> None:
    with rt.db.write() as session:
        create_user(session, "vera", "admin", PASSWORD)
    result = run(app)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "real users" in lines[0] and "--force" in lines[0], result.output
    assert "Traceback" not in result.output
    assert names(rt) == {"vera"} and cases(rt) == 0  # nothing was made


def test_a_real_user_with_a_demo_name_is_refused(app: Any, rt: Any) -> None:
    with rt.db.write() as session:
        create_user(session, "ada", "admin", "a-real-admins-password")
    result = run(app)
    assert result.exit_code == 1 and "--force" in result.output
    assert names(rt) == {"ada"}


def test_a_database_with_real_cases_is_refused(app: Any, rt: Any) -> None:
    new_case(rt, "Owl", actor=Actor("system", "admin"))
    result = run(app)
    assert result.exit_code == 1 and "real cases" in result.output
    assert names(rt) == set() and cases(rt) == 1


def test_the_demo_loads_on_an_empty_database_runs_again_and_can_be_forced(app: Any, rt: Any) -> None:
    first = run(app)
    assert first.exit_code == 0 and "demo cases imported: 4" in first.output, first.output
    again = run(app)
    assert again.exit_code == 0 and "demo cases imported: 0" in again.output, again.output
    # A case that a demo user made while trying the demo is still demo data.
    new_case(rt, "Owl", actor=Actor("anna", "caseworker"))
    assert run(app).exit_code == 0
    with rt.db.write() as session:
        create_user(session, "vera", "admin", PASSWORD)
    assert run(app).exit_code == 1
    forced = run(app, "--force")
    assert forced.exit_code == 0, forced.output
