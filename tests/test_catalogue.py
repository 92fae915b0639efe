"""The event catalogue against domain.md: types, fields, validation, schemas and upcasting."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.events import catalogue
from tracker.events.catalogue import (
    CATALOGUE,
    DATE_PRECISIONS,
    SENSITIVE,
    EventType,
    Field,
    ValidationError,
    data_schema,
    event_type_schema,
    upcast,
    validate_data,
    validate_date_precision,
    validate_occurred_on,
)
from tracker.events.countries import COUNTRY_CODES

# Transcribed from domain.md's tables by hand: "*" required, "(s)" sensitive.
EXPECTED: dict[str, dict[str, str]] = {
    "intake": {
        "case_opened": "pseudonym* legal_name(s) birth_year citizenship* category* contact_channel "
        "referral_source",
        "contact_details_changed": "phone(s) messenger(s) address(s) reason",
        "caseworker_assigned": "username*",
        "caseworker_unassigned": "username*",
        "note_added": "text*(s)",
        "related_person_recorded": "relation* legal_name(s) country city contact(s) note(s)",
    },
    "service": {
        "service_recorded": "status* rank unit(s) contract_end",
        "mobilization_order_received": "authority",
        "left_service": "how*",
    },
    "movement": {
        "fled_country": "from_country* to_country* crossing_point document_used",
        "relocated": "country* city* address(s) registered_at_address",
        "border_crossed": "country* direction* crossing_point document_used",
    },
    "stay": {
        "stay_permitted": "country* kind* valid_from valid_until",
        "stay_extended": "country* valid_until*",
        "stay_ended": "country* reason",
        "removal_ordered": "country* leave_by*",
    },
    "documents": {"document_recorded": "kind* number(s) valid_until status*"},
    "prosecution": {
        "criminal_case_opened": "country* article* description max_sentence_years reference(s)",
        "charges_changed": "criminal_case* article* max_sentence_years",
        "wanted_listed": "country* scope*",
        "court_hearing_scheduled": "criminal_case court hearing_on*",
        "verdict_issued": "criminal_case* in_absentia sentence_years",
        "relatives_pressured": "kind* who(s) related_person",
        "extradition_requested": "requesting_country* host_country*",
        "extradition_decided": "outcome*",
    },
    "detention": {"detained": "country* place authority reason", "released": "grounds"},
    "protection": {
        "asylum_applied": "country authority reference(s) route",
        "asylum_interview_scheduled": "country* interview_on*",
        "asylum_decided": "country* outcome* procedure notified_on",
        "appeal_filed": "country* body",
        "appeal_decided": "country* outcome*",
        "travel_permit_requested": "country* purpose*",
        "travel_permit_decided": "country* outcome* valid_until",
    },
    "safety": {
        # Version 2 of threat_reported (beyond domain.md's version 1): who, claimed identity, channel.
        "threat_reported": "kind* description(s) made_by(s) claimed_identity channel",
        "risk_assessed": "level* reasons",
        "check_in_plan_set": "every_days*",
        "contact_made": "channel",
    },
    "support": {
        "lawyer_assigned": "name* organization",
        "assistance_provided": "kind* amount currency",
        "referral_made": "organization*",
        "reminder_set": "title* due_on*",
        "follow_up_set": "title* owner* due_on* deadline_key",
        "follow_up_done": "follow_up* comment",
        "follow_up_snoozed": "follow_up* until*",
        "follow_up_reassigned": "follow_up* owner*",
    },
    "closing": {
        "deadline_resolved": "deadline_key* resolution* comment",
        "event_corrected": "event_id* data* occurred_on reason*",
        "event_retracted": "event_id* reason*",
        "case_closed": "outcome*",
        "case_reopened": "reason",
        "personal_data_erased": "reason*",
    },
    # Not in domain.md: files attached to a case (docs/attachments.md).
    "attachments": {
        "attachment_added": "sha256* name*(s) media_type* size* supports_event thumbnail metadata_found",
    },
}
ENUMS = {
    ("case_opened", "category"): "deserter mobilization_evader refused_orders conscript other",
    ("service_recorded", "status"): "contract mobilized conscript cadet",
    ("left_service", "how"): "deserted awol refused_orders wounded_evacuated never_reported",
    ("fled_country", "document_used"): "internal_passport international_passport none",
    ("border_crossed", "direction"): "entered left",
    ("border_crossed", "document_used"): "internal_passport international_passport travel_permit "
    "residence_card none",
    ("stay_permitted", "kind"): "visa_free registration temporary_residence permanent_residence "
    "refugee_status humanitarian",
    ("stay_ended", "reason"): "expired revoked left",
    ("document_recorded", "kind"): "internal_passport international_passport military_id travel_permit "
    "residence_card other",
    ("document_recorded", "status"): "held confiscated lost held_by_third_party expired",
    ("wanted_listed", "scope"): "national interstate interpol",
    ("relatives_pressured", "kind"): "questioned searched threatened",
    ("extradition_decided", "outcome"): "refused granted",
    ("asylum_applied", "route"): "in_country border embassy",
    ("asylum_decided", "outcome"): "granted subsidiary_protection rejected inadmissible",
    ("asylum_decided", "procedure"): "normal accelerated manifestly_unfounded",
    ("appeal_decided", "outcome"): "granted subsidiary_protection rejected inadmissible",
    ("travel_permit_requested", "purpose"): "asylum humanitarian family work",
    ("travel_permit_decided", "outcome"): "granted refused",
    ("threat_reported", "kind"): "calls surveillance approach online abduction_attempt",
    ("threat_reported", "claimed_identity"): (
        "police military_enlistment_office fsb foreign_police court other unknown"
    ),
    ("threat_reported", "channel"): "phone_call messenger in_person letter online relatives other",
    ("risk_assessed", "level"): "low medium high critical",
    ("assistance_provided", "kind"): "housing funds legal medical psychological employment travel",
    ("deadline_resolved", "resolution"): "met moot dismissed",
    ("related_person_recorded", "relation"): "mother father spouse partner child sibling other",
    ("case_closed", "outcome"): "protection_granted resettled returned lost_contact detained deceased other",
}
KINDS = {
    ("relocated", "registered_at_address"): "bool",
    ("verdict_issued", "in_absentia"): "bool",
    ("case_opened", "birth_year"): "int",
    ("check_in_plan_set", "every_days"): "int",
    ("assistance_provided", "amount"): "number",
    ("charges_changed", "criminal_case"): "event_ref",
    ("court_hearing_scheduled", "criminal_case"): "event_ref",
    ("verdict_issued", "criminal_case"): "event_ref",
    ("event_corrected", "event_id"): "event_ref",
    ("event_retracted", "event_id"): "event_ref",
    ("caseworker_assigned", "username"): "username",
    ("event_corrected", "data"): "object",
    ("event_corrected", "occurred_on"): "date",
    ("fled_country", "to_country"): "country",
    ("extradition_requested", "host_country"): "country",
    ("reminder_set", "due_on"): "date",
    ("relatives_pressured", "related_person"): "event_ref",
    ("follow_up_set", "owner"): "username",
    ("follow_up_set", "due_on"): "date",
    ("follow_up_done", "follow_up"): "event_ref",
    ("follow_up_snoozed", "until"): "date",
    ("follow_up_reassigned", "owner"): "username",
}
#: The types past schema version 1 (each step has its upcaster).
VERSIONS = {"note_added": 2, "relatives_pressured": 2, "asylum_applied": 2, "threat_reported": 2}
TYPES = {name: (group, spec.split()) for group, types in EXPECTED.items() for name, spec in types.items()}
UUID = "0B7C4A3E-1F2D-4C5B-9A8E-7D6C5B4A3F2E"
TODAY = date(2024, 6, 15)


def fields_of(name: str) -> tuple[set[str], set[str], set[str]]:
    words = TYPES[name][1]
    names = {w.removesuffix("(s)").rstrip("*") for w in words}
    required = {w.removesuffix("(s)")[:-1] for w in words if w.removesuffix("(s)").endswith("*")}
    return names, required, {w.removesuffix("(s)").rstrip("*") for w in words if w.endswith("(s)")}


def rejected(type_name: str, data: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        validate_data(type_name, data)
    return info.value.fields


def test_every_type_of_the_domain_is_declared_in_order_with_its_fields():
    assert list(CATALOGUE) == list(TYPES)
    for name, event_type in CATALOGUE.items():
        names, required, sensitive = fields_of(name)
        assert event_type.name == name
        assert event_type.group == TYPES[name][0]
        assert set(event_type.field_names) == names, name
        assert set(event_type.required_fields) == required, name
        assert event_type.sensitive_fields == sensitive == SENSITIVE[name], name
        assert event_type.schema_version == VERSIONS.get(name, 1) and event_type.past_only
        assert event_type.api_writable == (name not in ("personal_data_erased", "attachment_added"))


def test_enums_and_kinds_are_those_of_the_domain():
    for (type_name, field_name), choices in ENUMS.items():
        field = CATALOGUE[type_name].field(field_name)
        assert (field.kind, field.choices) == ("enum", tuple(choices.split()))
    declared = {(t.name, f.name) for t in CATALOGUE.values() for f in t.fields if f.kind == "enum"}
    assert declared == set(ENUMS)
    for (type_name, field_name), kind in KINDS.items():
        assert CATALOGUE[type_name].field(field_name).kind == kind
    with pytest.raises(KeyError):
        CATALOGUE["note_added"].field("nope")


def test_field_defaults():
    assert Field("a", "str").max_length == 200
    assert Field("a", "text").max_length == 5000
    with pytest.raises(ValueError):
        Field("a", "colour")
    with pytest.raises(ValueError):
        Field("a", "enum")


def test_country_codes_are_the_officially_assigned_ones():
    assert len(COUNTRY_CODES) == 249
    assert {"KZ", "RU", "AM", "GE", "FR", "DE", "US", "GB", "AQ"} <= COUNTRY_CODES
    assert not {"UK", "XK", "EU", "SU", "YU", "kz"} & COUNTRY_CODES


FLED = {"from_country": "RU", "to_country": "KZ"}
BAD = [
    ("fled_country", {"from_country": "RU"}, "to_country", "required"),
    ("fled_country", {**FLED, "to_country": None}, "to_country", "required"),
    ("note_added", {"text": "  \n "}, "text", "empty"),
    ("fled_country", {**FLED, "teleport": True}, "teleport", "not a field"),
    ("fled_country", {**FLED, 7: "x"}, "7", "not a field"),
    ("left_service", {"how": "flew_away"}, "how", "deserted, awol, refused_orders"),
    ("left_service", {"how": ["deserted"]}, "how", "one of"),
    ("fled_country", {**FLED, "to_country": "kz"}, "to_country", "capitals"),
    ("fled_country", {**FLED, "to_country": "UK"}, "to_country", "ISO 3166-1"),
    ("fled_country", {**FLED, "to_country": 7}, "to_country", "ISO 3166-1"),
    ("reminder_set", {"title": "x", "due_on": "next tuesday"}, "due_on", "YYYY-MM-DD"),
    ("reminder_set", {"title": "x", "due_on": "2023-02-30"}, "due_on", "calendar"),
    ("reminder_set", {"title": "x", "due_on": "2023-1-5"}, "due_on", "YYYY-MM-DD"),
    ("reminder_set", {"title": "x", "due_on": "١٩٩٠-٠١-٠١"}, "due_on", "YYYY-MM-DD"),
    ("reminder_set", {"title": "x", "due_on": "1899-12-31"}, "due_on", "1900-01-01"),
    ("case_opened", {"pseudonym": "Y", "citizenship": "RU", "category": "other", "birth_year": True},
     "birth_year", "whole number"),
    ("case_opened", {"pseudonym": "Y", "citizenship": "RU", "category": "other", "birth_year": "1990"},
     "birth_year", "whole number"),
    ("case_opened", {"pseudonym": "Y", "citizenship": "RU", "category": "other", "birth_year": 1990.0},
     "birth_year", "whole number"),
    ("case_opened", {"pseudonym": "Y", "citizenship": "RU", "category": "other", "birth_year": 1899},
     "birth_year", "at least 1900"),
    ("check_in_plan_set", {"every_days": 0}, "every_days", "at least 1 and at most 90"),
    ("check_in_plan_set", {"every_days": 10**400}, "every_days", "at most 90"),
    ("verdict_issued", {"criminal_case": UUID, "sentence_years": 101}, "sentence_years", "at most 100"),
    ("verdict_issued", {"criminal_case": UUID, "in_absentia": "yes"}, "in_absentia", "true or false"),
    ("verdict_issued", {"criminal_case": "#3"}, "criminal_case", "UUID"),
    ("assistance_provided", {"kind": "funds", "amount": float("nan")}, "amount", "finite"),
    ("assistance_provided", {"kind": "funds", "amount": float("inf")}, "amount", "finite"),
    ("assistance_provided", {"kind": "funds", "amount": -1}, "amount", "at least 0"),
    ("assistance_provided", {"kind": "funds", "amount": False}, "amount", "number"),
    ("assistance_provided", {"kind": "funds", "currency": "usd"}, "currency", "3-letter"),
    ("caseworker_assigned", {"username": "Anna"}, "username", "lowercase"),
    ("caseworker_assigned", {"username": "an na"}, "username", None),
    ("caseworker_assigned", {"username": 5}, "username", "username"),
    ("note_added", {"text": 5}, "text", "string"),
    ("note_added", {"text": "x" * 5001}, "text", "at most 5000"),
    ("lawyer_assigned", {"name": "x" * 201}, "name", "at most 200"),
    ("note_added", {"text": "bell\x07"}, "text", "control characters"),
    ("note_added", {"text": "nul\x00"}, "text", "control characters"),
    ("note_added", {"text": "lone \ud800 surrogate"}, "text", "control characters"),
    ("event_corrected", {"event_id": UUID, "data": [1], "reason": "typo"}, "data", "JSON object"),
    ("stay_permitted", {"country": "KZ", "kind": "visa_free", "valid_from": "2023-02-02",
                        "valid_until": "2023-02-01"}, "valid_until", "before valid_from"),
]  # fmt: skip


@pytest.mark.parametrize(("type_name", "data", "field", "says"), BAD)
def test_each_rejection_names_the_field(type_name, data, field, says):
    fields = rejected(type_name, data)
    assert field in fields
    if says:
        assert says in fields[field]
    assert field in str(ValidationError(fields))


def test_unknown_type_and_non_object_data_name_the_envelope():
    assert set(rejected("teleported", {})) == {"type"}
    assert set(rejected(["fled_country"], {})) == {"type"}  # type: ignore[arg-type]
    for data in (None, [], "x", 3, True):
        assert set(rejected("note_added", data)) == {"data"}


def test_every_bad_field_is_named_at_once_in_one_sentence():
    fields = rejected("fled_country", {"from_country": "ru", "document_used": "visa", "x": 1})
    assert set(fields) == {"from_country", "to_country", "document_used", "x"}
    message = str(ValidationError(fields))
    assert message.count(".") == 1 and all(name in message for name in fields)


def test_error_messages_do_not_echo_sensitive_values():
    fields = rejected("contact_details_changed", {"phone": "+7 700 123\x07 4567"})
    assert "700" not in fields["phone"]
    assert pickle.loads(pickle.dumps(ValidationError(fields))).fields == fields


def test_normalization():
    data = {
        "pseudonym": "  Spa\u0301rrow\t",
        "citizenship": "RU",
        "category": " conscript ",
        "legal_name": "   ",
        "contact_channel": None,
        "referral_source": "hotline",
    }
    assert validate_data("case_opened", data) == {
        "pseudonym": "Spárrow",
        "citizenship": "RU",
        "category": "conscript",
        "referral_source": "hotline",
    }
    assert validate_data("note_added", {"text": " a\r\nb\rc\td "}) == {"text": "a\nb\nc\td"}
    assert validate_data("verdict_issued", {"criminal_case": UUID, "in_absentia": False}) == {
        "criminal_case": UUID.lower(),
        "in_absentia": False,
    }
    assert validate_data("assistance_provided", {"kind": "funds", "amount": 0.5, "currency": "EUR"})[
        "amount"
    ] == pytest.approx(0.5)
    corrected = {"event_id": UUID, "data": {"text": "x"}, "occurred_on": "2023-02-28", "reason": "typo"}
    out = validate_data("event_corrected", corrected)
    assert out["data"] == {"text": "x"} and out["data"] is not corrected["data"]
    assert validate_data("contact_details_changed", {}) == {}


def test_occurred_on():
    assert validate_occurred_on("note_added", "2024-06-15", TODAY) == TODAY
    assert validate_occurred_on("fled_country", " 1900-01-01 ", TODAY) == date(1900, 1, 1)
    for bad in ("2024-06-16", "1899-12-31", "2023-02-29", "2023-13-45", "tomorrow", None, 20240101, ""):
        with pytest.raises(ValidationError) as info:
            validate_occurred_on("detained", bad, TODAY)
        assert set(info.value.fields) == {"occurred_on"}
    with pytest.raises(ValidationError) as info:
        validate_occurred_on("teleported", "2024-01-01", TODAY)
    assert set(info.value.fields) == {"type"}


def test_occurred_on_messages_say_which_bound_was_crossed():
    # A real date far in the future (beyond the calendar's upper bound too) lies after today.
    for future in ("2999-01-01", "9999-12-31", "2200-01-01", "2024-06-16"):
        with pytest.raises(ValidationError) as info:
            validate_occurred_on("note_added", future, TODAY)
        assert info.value.fields == {"occurred_on": "must not be in the future (after 2024-06-15)"}, future
    # Malformed or too early: the message gives the whole accepted range, ending today.
    for bad in ("1899-12-31", "2023-02-29", "2999-13-01", "01.02.2023", "tomorrow", 20240101, ""):
        with pytest.raises(ValidationError) as info:
            validate_occurred_on("note_added", bad, TODAY)
        message = info.value.fields["occurred_on"]
        assert message == "must be a real calendar date written YYYY-MM-DD, from 1900-01-01 to 2024-06-15", (
            bad
        )
        assert "not before" not in message


def test_date_precision():
    assert DATE_PRECISIONS == ("day", "month", "year")
    assert validate_date_precision(None) == "day"
    assert validate_date_precision("month") == "month"
    with pytest.raises(ValidationError) as info:
        validate_date_precision("week")
    assert set(info.value.fields) == {"date_precision"}


@pytest.mark.parametrize("name", list(TYPES))
def test_schemas(name):
    names, required, sensitive = fields_of(name)
    schema = data_schema(name)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["properties"]) == names
    assert set(schema["required"]) == required
    assert {k for k, v in schema["properties"].items() if v.get("x-sensitive")} == sensitive
    described = event_type_schema(name)
    assert described["type"] == name and described["schema"] == schema
    assert set(described["sensitive_fields"]) == sensitive
    assert described["api_writable"] == CATALOGUE[name].api_writable
    text = json.dumps(described)
    assert all(f'"{field}"' in text for field in required)


def test_schema_details():
    props = data_schema("stay_permitted")["properties"]
    assert props["valid_until"]["format"] == "date"
    assert props["kind"]["enum"][0] == "visa_free"
    assert data_schema("check_in_plan_set")["properties"]["every_days"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 90,
    }
    assert data_schema("relocated")["properties"]["registered_at_address"]["type"] == "boolean"


def test_upcast_is_identity_at_the_current_version_and_refuses_unknown_ones():
    data = {"organization": "x"}
    assert upcast("referral_made", 1, data) == data
    for version in (0, 2):
        with pytest.raises(ValueError):
            upcast("referral_made", version, data)
    with pytest.raises(ValueError):
        upcast("teleported", 1, data)


@pytest.mark.parametrize(
    ("type_name", "stored"),
    [
        ("note_added", {"text": "Mother was questioned by the police."}),
        ("asylum_applied", {"country": "FR", "authority": "OFPRA", "route": "in_country"}),
        ("relatives_pressured", {"kind": "questioned", "who": "FSB officers"}),
    ],
)
def test_version_1_payloads_read_as_valid_version_2_ones(type_name, stored):
    assert CATALOGUE[type_name].schema_version == 2
    lifted = upcast(type_name, 1, stored)
    assert lifted == stored
    assert validate_data(type_name, lifted) == stored


def test_version_2_loosens_and_marks_what_is_uncertain_and_personal():
    assert validate_data("asylum_applied", {"route": "embassy"}) == {"route": "embassy"}
    assert "text" in SENSITIVE["note_added"] and "who" in SENSITIVE["relatives_pressured"]
    assert rejected("note_added", {})["text"] == "is required"
    assert rejected("relatives_pressured", {"kind": "questioned", "related_person": "mother"}) == {
        "related_person": "must be the id of an event (a UUID)"
    }


def test_upcasters_run_in_a_loop_from_the_stored_version(monkeypatch):
    monkeypatch.setitem(CATALOGUE, "note_added", replace(CATALOGUE["note_added"], schema_version=3))
    monkeypatch.setitem(catalogue.UPCASTERS, ("note_added", 1), lambda d: {"body": d["text"]})
    monkeypatch.setitem(catalogue.UPCASTERS, ("note_added", 2), lambda d: {"text": d["body"].upper()})
    assert upcast("note_added", 1, {"text": "x"}) == {"text": "X"}
    assert upcast("note_added", 2, {"body": "y"}) == {"text": "Y"}
    assert upcast("note_added", 3, {"text": "z"}) == {"text": "z"}


def test_every_older_schema_version_has_an_upcaster():
    for event_type in CATALOGUE.values():
        for version in range(1, event_type.schema_version):
            assert (event_type.name, version) in catalogue.UPCASTERS


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def check(type_name: str, data: Any) -> None:
    try:
        out = validate_data(type_name, data)
    except ValidationError as exc:
        assert exc.fields and all(isinstance(k, str) and isinstance(v, str) for k, v in exc.fields.items())
        return
    assert isinstance(out, dict) and set(out) <= set(CATALOGUE[type_name].field_names)


@settings(max_examples=300, deadline=None)
@given(type_name=st.sampled_from([*CATALOGUE, "teleported"]), data=JSON)
def test_arbitrary_json_gives_a_dict_or_a_validation_error(type_name: str, data: Any):
    check(type_name, data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_arbitrary_values_under_real_field_names(draw: st.DataObject):
    event_type: EventType = draw.draw(st.sampled_from(list(CATALOGUE.values())))
    keys = st.sampled_from(event_type.field_names) | st.text(max_size=4) | st.integers()
    check(event_type.name, draw.draw(st.dictionaries(keys, JSON, max_size=6)))
