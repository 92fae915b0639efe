"""schemathesis against the real application: every operation of /api/v1/openapi.json, as a caseworker
and as an auditor, on every engine, with every check; then a stateful run that follows the document's
links from a new case to its events and back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import hypothesis
import pytest
import schemathesis
from conftest import open_case
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from tracker.api.openapi import openapi_document

# Few examples per operation keep the whole file near a minute per engine on two cores.
EXAMPLES = 15
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
STATEFUL = hypothesis.settings(SETTINGS, max_examples=12, stateful_step_count=8)

#: What the document cannot express, and why a valid-looking request may still be refused (docs/api.md):
#: an event that fits its schema can break a rule of the case's history (422), and a cursor is only
#: valid when the server handed it out (400).
ACCEPTED = ["2xx", "401", "403", "404", "409", "429"]
LIMITS = [
    {
        "include-name": "POST /api/v1/cases/{id}/events",
        "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}},
    },
    {
        # A file's content must be of an accepted type (415) and event_id an event of the case (422):
        # no schema can say either.
        "include-name": "POST /api/v1/cases/{id}/attachments",
        "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "413", "415", "422"]}},
    },
    {
        "include-name": "GET /api/v1/cases",
        "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
    },
]


def _today_or_before() -> st.SearchStrategy[str]:
    # occurred_on must not lie after the server's today, which no schema can say; other dates in the
    # document accept every day from 1900 on, so this strategy serves them all.
    return st.dates(date(1900, 1, 1), date.today()).map(date.isoformat)


schemathesis.openapi.format("date", _today_or_before())


# The schema is loaded once, at import: schemathesis.pytest.from_fixture (a schema per fixture) fails
# under pytest 9, which no longer lets it rename the test node (Function._nodeid). So each test's app
# and user are reached through the shim below.
#: Cases are built when the tests are collected, before any user exists: they carry this placeholder,
#: which the application shim below swaps for the token of the running test's user.
PLACEHOLDER = "Bearer <caller>"


class _Current:
    """The application and token of the running test, behind one WSGI callable the schema can hold."""

    app: Any = None
    token = ""

    def __init__(self) -> None:
        self.answers: list[tuple[str, str, int]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_AUTHORIZATION") == PLACEHOLDER:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"

        def record(status: str, headers: Any, *args: Any) -> Any:
            self.answers.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], int(status[:3])))
            return start_response(status, headers, *args)

        return self.app(environ, record)

    def reached(self, method: str, path_regex: str, status: int) -> bool:
        return any(m == method and re.fullmatch(path_regex, p) and s == status for m, p, s in self.answers)


CURRENT = _Current()
SETUP = {"headers": {"Authorization": PLACEHOLDER}, "checks": {"enabled": True}}
CONFIG = SchemathesisConfig.from_dict({**SETUP, "operations": LIMITS})
# The document the app serves (test_openapi.py checks that /api/v1/openapi.json is this very one).
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)
schema.app = CURRENT


@pytest.fixture(params=["caseworker", "auditor"])
def caller(request: pytest.FixtureRequest, app: Any, api_for: Any) -> Iterator[str]:
    """Points the schema at this test's app, as a user of the parametrized role (with a case to read)."""
    writer = api_for(app, "supervisor")
    open_case(writer, legal_name="Ivan Example")
    user = api_for(app, request.param)
    CURRENT.app = app
    CURRENT.token = user.token
    yield request.param
    CURRENT.app = None
    CURRENT.token = ""


@schema.parametrize()
@SETTINGS
def test_every_operation_keeps_its_document(case: Any, caller: str) -> None:
    case.call_and_validate()


def test_stateful_runs_follow_the_links_to_the_write_paths(caller: str) -> None:
    CURRENT.answers.clear()
    # The case operations only: the others have no links, and their random calls would crowd out the
    # chains that reach the write paths.
    only_cases = {"exclude-path-regex": "^/api/v1/cases", "phases": {"stateful": {"enabled": False}}}
    config = SchemathesisConfig.from_dict({**SETUP, "operations": [*LIMITS, only_cases]})
    cases = schemathesis.openapi.from_dict(openapi_document(), config=config)
    cases.app = CURRENT
    cases.as_state_machine().run(settings=STATEFUL)
    if caller == "auditor":
        assert CURRENT.reached("POST", "/api/v1/cases", 403)
        return
    # Cases opened, events added to them through the links, and read back.
    case = "/api/v1/cases/[0-9a-f-]{36}"
    assert CURRENT.reached("POST", "/api/v1/cases", 201)
    assert CURRENT.reached("POST", f"{case}/events", 201)
    assert CURRENT.reached("GET", f"{case}/events", 200)
    assert CURRENT.reached("GET", case, 200)
