"""Hostile payloads at the write endpoints: only 201 or 4xx, never 5xx, and nothing stored on 4xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import open_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.events.catalogue import CATALOGUE, EventType

FAST = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# Any unicode, lone surrogates and control characters included.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
DATES = st.sampled_from(
    ["2023-01-01", "2022-02-29", "2023-13-01", "2999-01-01", "1899-12-31", "01.02.2023", "", "2023-1-1"]
) | st.dates().map(str)


def value_for(kind: str, choices: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Values that look right for a field of this kind, and some that almost do."""
    near = {
        "country": st.sampled_from(["KZ", "RU", "AM", "XX", "kz", "KAZ", ""]),
        "date": DATES,
        "enum": st.sampled_from([*choices, choices[0].upper(), " " + choices[0]]) if choices else TEXT,
        "int": st.integers(min_value=-5, max_value=200) | st.just(2**70),
        "number": st.floats(allow_nan=False) | st.integers(),
        "bool": st.booleans() | st.just("true"),
        "event_ref": st.uuids().map(str) | st.just("#1"),
        "username": st.sampled_from(["ada", "nobody", "Ada", "a"]),
        "object": st.dictionaries(st.sampled_from(["text", "country", "phone"]), JSON, max_size=3),
    }.get(kind, TEXT | st.text(min_size=4990, max_size=5010))
    return near | JSON


@st.composite
def typed_data(draw: Any, event_type: EventType) -> dict[str, Any]:
    data = {}
    for field in event_type.fields:
        if draw(st.booleans()) or field.required:
            data[field.name] = draw(value_for(field.kind, field.choices))
    if draw(st.integers(0, 5)) == 0:
        data[draw(TEXT)] = draw(JSON)
    return data


@st.composite
def envelopes(draw: Any) -> Any:
    type_name = draw(st.sampled_from(list(CATALOGUE)) | TEXT | JSON)
    body: dict[str, Any] = {"type": type_name}
    if draw(st.booleans()):
        body["occurred_on"] = draw(DATES | JSON)
    if draw(st.integers(0, 3)) == 0:
        body["date_precision"] = draw(st.sampled_from(["day", "month", "year", "week"]) | JSON)
    if draw(st.integers(0, 3)) == 0:
        body["expected_version"] = draw(st.integers(-2, 10) | JSON)
    event_type = CATALOGUE.get(type_name) if isinstance(type_name, str) else None
    body["data"] = draw(typed_data(event_type) if event_type else JSON)
    if draw(st.integers(0, 5)) == 0:
        body[draw(TEXT)] = draw(JSON)
    return body if draw(st.integers(0, 9)) else draw(JSON)


RAW_BODIES = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"type": "note_added", "data": ' * 50_000,
    b'{"data": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001,
    b'{"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "' + b"x" * 2_000_000 + b'"}}',
    b'{"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": 1' + b"0" * 5_000 + b"}}",
    b'{"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": NaN}}',
    b'{"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "\\ud800"}}',
    b'{"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "a\\u0000b"}}',
    b"\xef\xbb\xbf{}",
    b"\x00\x01\x02",
    b"null",
]


@pytest.fixture
def target(sqlite_app: Any, api_for: Any) -> tuple[Any, str]:
    admin = api_for(sqlite_app, "admin", "ada")
    return admin, open_case(admin)


def post_body(api: Any, path: str, body: bytes) -> Any:
    headers = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"}
    return api.client.post("/api/v1" + path, data=body, headers=headers)


def check_answer(r: Any) -> None:
    assert r.status_code == 201 or 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code != 201:
        body = r.get_json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str), r.get_data(as_text=True)[:300]


def events_of(api: Any, case_id: str) -> list[dict[str, Any]]:
    return list(api.get(f"/cases/{case_id}/events").get_json()["events"])


@FAST
@given(body=envelopes())
def test_hostile_events_get_201_or_4xx_and_4xx_stores_nothing(target: tuple[Any, str], body: Any) -> None:
    api, case_id = target
    before = len(events_of(api, case_id))
    r = post_body(api, f"/cases/{case_id}/events", json.dumps(body).encode())
    check_answer(r)
    after = len(events_of(api, case_id))
    assert after == before + (1 if r.status_code == 201 else 0)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.dictionaries(st.sampled_from(["pseudonym", "citizenship", "category", "occurred_on",
                                              "legal_name", "birth_year", "date_precision", "type"]), JSON)
       | typed_data(CATALOGUE["case_opened"]) | JSON)  # fmt: skip
def test_hostile_cases_get_201_or_4xx_and_4xx_opens_nothing(target: tuple[Any, str], body: Any) -> None:
    api, _ = target
    before = len(api.get("/cases", limit=500).get_json()["cases"])
    r = post_body(api, "/cases", json.dumps(body).encode())
    check_answer(r)
    after = len(api.get("/cases", limit=500).get_json()["cases"])
    assert after == before + (1 if r.status_code == 201 else 0)


@pytest.mark.parametrize("body", RAW_BODIES, ids=range(len(RAW_BODIES)))
def test_hostile_raw_bodies_are_refused_cleanly(target: tuple[Any, str], body: bytes) -> None:
    api, case_id = target
    for path in (f"/cases/{case_id}/events", "/cases"):
        r = post_body(api, path, body)
        check_answer(r)
        assert r.status_code != 201
    assert len(events_of(api, case_id)) == 1
