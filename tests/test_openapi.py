"""The OpenAPI document: valid OpenAPI 3.1, what it says of each body, and that it matches the server."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from tracker.api.openapi import openapi_document
from tracker.api.openapi_schemas import POSTABLE
from tracker.events.catalogue import CATALOGUE, ValidationError, validate_data

DOC = openapi_document()


@cache
def validator(name: str) -> Any:
    """A JSON Schema validator of one component, its $refs resolved inside the document."""
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": DOC["components"]}, validate_formats=True
    )


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_the_document_is_valid_openapi_3_1_with_valid_schemas(sqlite_app: Any) -> None:
    served = sqlite_app.test_client().get("/api/v1/openapi.json").get_json()
    assert served == json.loads(json.dumps(DOC)), "the app serves another document than openapi_document()"
    OPENAPI_31_VALIDATOR.validate(DOC)
    for name, schema in DOC["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name
    for ref in _refs(DOC):
        assert ref.removeprefix("#/components/schemas/") in DOC["components"]["schemas"], ref


def test_every_operation_has_an_id_and_every_link_names_one_with_its_parameters() -> None:
    operations = {
        op["operationId"]: op
        for item in DOC["paths"].values()
        for key, op in item.items()
        if key != "parameters"
    }
    assert len(operations) == sum(len(item) for item in DOC["paths"].values())
    links = [
        link
        for op in operations.values()
        for answer in op["responses"].values()
        for link in answer.get("links", {}).values()
    ]
    assert {link["operationId"] for link in links} >= {"getCase", "getEvents", "postEvent"}
    for link in links:
        target = operations[link["operationId"]]
        names = {p["name"] for p in target.get("parameters", [])}
        assert set(link["parameters"]) <= names, link


def test_post_cases_takes_the_fields_it_documents_and_nothing_else() -> None:
    new_case = validator("NewCase")
    body = {"pseudonym": "Sparrow", "citizenship": "RU", "category": "deserter"}
    assert new_case.is_valid({**body, "occurred_on": "2022-09-25", "date_precision": "month"})
    assert new_case.is_valid({**body, "birth_year": 1990, "legal_name": None})
    assert not new_case.is_valid({**body, "teleported": True})
    assert not new_case.is_valid({**body, "citizenship": "XX"})
    assert not new_case.is_valid({"citizenship": "RU", "category": "deserter"})


def test_an_event_body_is_tied_to_its_type_by_a_discriminator() -> None:
    new_event = DOC["components"]["schemas"]["NewEvent"]
    assert new_event["discriminator"]["propertyName"] == "type"
    assert set(new_event["discriminator"]["mapping"]) == set(POSTABLE)
    assert set(POSTABLE) == {n for n, t in CATALOGUE.items() if t.api_writable} - {"case_opened"}
    check = validator("NewEvent")
    assert check.is_valid({"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "called"}})
    # note_added's payload under another type: refused by the schema, as by the server.
    assert not check.is_valid(
        {"type": "fled_country", "occurred_on": "2023-01-01", "data": {"text": "called"}}
    )
    assert not check.is_valid({"type": "personal_data_erased", "occurred_on": "2023-01-01", "data": {}})


def test_the_bounds_of_query_parameters_are_the_servers() -> None:
    def schema(path: str, name: str) -> dict[str, Any]:
        (param,) = [p for p in DOC["paths"][path]["get"]["parameters"] if p["name"] == name]
        return dict(param["schema"])

    assert schema("/api/v1/cases", "limit") == {"type": "integer", "minimum": 1, "maximum": 500}
    assert schema("/api/v1/cases/{id}/events", "after_version")["maximum"] == 2**31
    assert schema("/api/v1/deadlines", "within_days")["maximum"] == 3650
    assert schema("/api/v1/alerts", "limit")["maximum"] == 1000
    assert schema("/api/v1/alerts", "unacknowledged") == {"type": "boolean"}
    assert "/calendar/{token}.ics" in DOC["paths"]


# Characters around each rule of the payload's strings: blanks Python strips, controls, newline and tab.
EDGES = " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000\x00\x7f\x9f\u200b\u202e\ufeffaZ9é-"
TEXTS = st.text(st.sampled_from(EDGES) | st.characters(codec="utf-8"), max_size=12)
#: (type, field, kind) of a field of each string kind, required and optional.
STRING_FIELDS = [
    ("case_opened", "pseudonym"),
    ("case_opened", "contact_channel"),
    ("note_added", "text"),
    ("case_reopened", "reason"),
    ("assistance_provided", "currency"),
    ("fled_country", "from_country"),
    ("reminder_set", "due_on"),
    ("caseworker_assigned", "username"),
    ("event_retracted", "event_id"),
    ("fled_country", "document_used"),
]
#: Values the server strips before judging them; the document names only the bare value (docs/api.md).
STRIPPED_KINDS = frozenset({"country", "enum", "date", "username", "event_ref"})


def _minimal(type_name: str, field: str, value: object) -> dict[str, Any]:
    samples = {"str": "x", "text": "x", "country": "RU", "enum": None, "date": "2020-01-01",
               "username": "ada", "event_ref": "00000000-0000-0000-0000-000000000000", "int": 1}  # fmt: skip
    data: dict[str, Any] = {}
    for f in CATALOGUE[type_name].fields:
        if f.required:
            data[f.name] = f.choices[0] if f.kind == "enum" else samples[f.kind]
    data[field] = value
    return data


@pytest.mark.parametrize(("type_name", "field"), STRING_FIELDS)
@settings(max_examples=150, deadline=None, database=None)
@given(value=TEXTS)
@example(value="")
@example(value=" ")
@example(value="a\u3000")
@example(value="a\nb")
@example(value="a" * 201)
@example(value=" " * 10 + "a" * 200)
@example(value=" " * 10 + "a" * 5000)
def test_the_document_accepts_a_string_exactly_when_the_server_does(
    type_name: str, field: str, value: str
) -> None:
    kind = CATALOGUE[type_name].field(field).kind
    if kind in STRIPPED_KINDS and value != value.strip() and value.strip():
        return
    data = _minimal(type_name, field, value)
    try:
        validate_data(type_name, data)
        server = True
    except ValidationError:
        server = False
    assert validator(type_name).is_valid(data) == server, (type_name, field, value)


def test_the_string_patterns_are_plain_enough_for_every_regex_dialect() -> None:
    # No lookaround or backreference: ECMA, Python and Rust engines (and client generators) all read them.
    patterns = re.findall(r'"pattern": "((?:[^"\\]|\\.)*)"', json.dumps(DOC))
    assert patterns
    for pattern in patterns:
        assert not re.search(r"\(\?[=!<]|\\[1-9]", json.loads(f'"{pattern}"')), pattern


def test_the_calendar_token_pattern_is_the_one_tokens_are_made_with(sqlite_app: Any) -> None:
    from tracker.auth.users import create_user
    from tracker.services.calendar import issue_token

    rt = sqlite_app.extensions["tracker"]
    with rt.db.write() as session:
        create_user(session, "cal", "caseworker", "correct-horse-battery-staple")
    token = issue_token(rt, "cal")
    (param,) = DOC["paths"]["/calendar/{token}.ics"]["get"]["parameters"]
    assert re.fullmatch(param["schema"]["pattern"].strip("^$"), token)
    assert sqlite_app.test_client().get(f"/calendar/{token}.ics").status_code == 200


def test_a_caller_that_changes_the_document_does_not_change_the_served_one(sqlite_app: Any) -> None:
    openapi_document()["paths"].clear()
    assert sqlite_app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
