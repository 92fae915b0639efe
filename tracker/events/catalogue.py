"""The event catalogue: one declaration per event type, payload validation, schemas and upcasters."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from tracker.events.fields import (
    EARLIEST_DATE,
    LATEST_DATE,
    EventType,
    Field,
    ValidationError,
    check_payload,
    parse_date,
    payload_schema,
)

__all__ = [
    "CATALOGUE", "DATE_ORDER", "DATE_PRECISIONS", "GROUPS", "NESTED_VERSION", "SENSITIVE", "UPCASTERS",
    "EventType", "Field", "ValidationError", "data_schema", "event_type_schema", "hide_sensitive", "upcast",
    "upcast_correction", "upcast_payload", "validate_data", "validate_date_precision", "validate_occurred_on",
]  # fmt: skip

DATE_PRECISIONS = ("day", "month", "year")
GROUPS = (
    "intake", "service", "movement", "stay", "documents", "prosecution",
    "detention", "protection", "safety", "support", "closing", "attachments",
)  # fmt: skip


def _req(name: str, kind: str = "str", **options: Any) -> Field:
    return Field(name, kind, required=True, **options)


def _opt(name: str, kind: str = "str", **options: Any) -> Field:
    return Field(name, kind, **options)


def _secret(name: str, kind: str = "str", required: bool = False) -> Field:
    return Field(name, kind, required=required, sensitive=True)


def _enum(name: str, choices: tuple[str, ...], required: bool = False) -> Field:
    return Field(name, "enum", required=required, choices=choices)


def _type(name: str, group: str, *fields: Field, api_writable: bool = True, version: int = 1) -> EventType:
    return EventType(name, fields, schema_version=version, group=group, api_writable=api_writable)


_YEARS = {"minimum": 0, "maximum": 100}
RELATIONS = ("mother", "father", "spouse", "partner", "child", "sibling", "other")
ASYLUM_OUTCOMES = ("granted", "subsidiary_protection", "rejected", "inadmissible")
#: Whom the maker of a threat claimed to be (threat_reported version 2).
CLAIMED_IDENTITIES = (
    "police", "military_enlistment_office", "fsb", "foreign_police", "court", "other", "unknown",
)  # fmt: skip

# fmt: off
_TYPES = (
    # Intake and identity
    _type(
        "case_opened", "intake",
        _req("pseudonym"), _secret("legal_name"), _opt("birth_year", "int", minimum=1900, maximum=2100),
        _req("citizenship", "country"),
        _enum("category", ("deserter", "mobilization_evader", "refused_orders", "conscript", "other"), True),
        _opt("contact_channel"), _opt("referral_source"),
    ),
    _type(
        "contact_details_changed", "intake",
        _secret("phone"), _secret("messenger"), _secret("address"), _opt("reason"),
    ),
    _type("caseworker_assigned", "intake", _req("username", "username")),
    _type("caseworker_unassigned", "intake", _req("username", "username")),
    # Version 2: the text is sensitive (version 1 notes were stored in clear and stay so).
    _type("note_added", "intake", _secret("text", "text", required=True), version=2),
    _type(
        "related_person_recorded", "intake",
        _enum("relation", RELATIONS, True), _secret("legal_name"), _opt("country", "country"), _opt("city"),
        _secret("contact"), _secret("note", "text"),
    ),
    # Military service and leaving it
    _type(
        "service_recorded", "service",
        _enum("status", ("contract", "mobilized", "conscript", "cadet"), True),
        _opt("rank"), _secret("unit"), _opt("contract_end", "date"),
    ),
    _type("mobilization_order_received", "service", _opt("authority")),
    _type(
        "left_service", "service",
        _enum("how", ("deserted", "awol", "refused_orders", "wounded_evacuated", "never_reported"), True),
    ),
    # Movement
    _type(
        "fled_country", "movement",
        _req("from_country", "country"), _req("to_country", "country"), _opt("crossing_point"),
        _enum("document_used", ("internal_passport", "international_passport", "none")),
    ),
    _type(
        "relocated", "movement",
        _req("country", "country"), _req("city"), _secret("address"), _opt("registered_at_address", "bool"),
    ),
    _type(
        "border_crossed", "movement",
        _req("country", "country"), _enum("direction", ("entered", "left"), True), _opt("crossing_point"),
        _enum("document_used", ("internal_passport", "international_passport", "travel_permit",
                                "residence_card", "none")),
    ),
    # Legal stay in the host country
    _type(
        "stay_permitted", "stay",
        _req("country", "country"),
        _enum("kind", ("visa_free", "registration", "temporary_residence", "permanent_residence",
                       "refugee_status", "humanitarian"), True),
        _opt("valid_from", "date"), _opt("valid_until", "date"),
    ),
    _type("stay_extended", "stay", _req("country", "country"), _req("valid_until", "date")),
    _type("stay_ended", "stay", _req("country", "country"), _enum("reason", ("expired", "revoked", "left"))),
    _type("removal_ordered", "stay", _req("country", "country"), _req("leave_by", "date")),
    # Documents
    _type(
        "document_recorded", "documents",
        _enum("kind", ("internal_passport", "international_passport", "military_id", "travel_permit",
                       "residence_card", "other"), True),
        _secret("number"), _opt("valid_until", "date"),
        _enum("status", ("held", "confiscated", "lost", "held_by_third_party", "expired"), True),
    ),
    # Prosecution at home
    _type(
        "criminal_case_opened", "prosecution",
        _req("country", "country"), _req("article"), _opt("description", "text"),
        _opt("max_sentence_years", "int", **_YEARS), _secret("reference"),
    ),
    _type(
        "charges_changed", "prosecution",
        _req("criminal_case", "event_ref"), _req("article"), _opt("max_sentence_years", "int", **_YEARS),
    ),
    _type(
        "wanted_listed", "prosecution",
        _req("country", "country"), _enum("scope", ("national", "interstate", "interpol"), True),
    ),
    _type(
        "court_hearing_scheduled", "prosecution",
        _opt("criminal_case", "event_ref"), _opt("court"), _req("hearing_on", "date"),
    ),
    _type(
        "verdict_issued", "prosecution",
        _req("criminal_case", "event_ref"), _opt("in_absentia", "bool"),
        _opt("sentence_years", "int", **_YEARS),
    ),
    # Version 2: `who` is sensitive, and the pressure may name one related person.
    _type(
        "relatives_pressured", "prosecution",
        _enum("kind", ("questioned", "searched", "threatened"), True), _secret("who"),
        _opt("related_person", "event_ref"), version=2,
    ),
    _type(
        "extradition_requested", "prosecution",
        _req("requesting_country", "country"), _req("host_country", "country"),
    ),
    _type("extradition_decided", "prosecution", _enum("outcome", ("refused", "granted"), True)),
    # Detention
    _type(
        "detained", "detention",
        _req("country", "country"), _opt("place"), _opt("authority"), _opt("reason", "text"),
    ),
    _type("released", "detention", _opt("grounds", "text")),
    # Protection abroad
    # Version 2: the country may be unknown (the person applied but does not know, or say, where).
    _type(
        "asylum_applied", "protection",
        _opt("country", "country"), _opt("authority"), _secret("reference"),
        _enum("route", ("in_country", "border", "embassy")), version=2,
    ),
    _type(
        "asylum_interview_scheduled", "protection",
        _req("country", "country"), _req("interview_on", "date"),
    ),
    _type(
        "asylum_decided", "protection",
        _req("country", "country"), _enum("outcome", ASYLUM_OUTCOMES, True),
        _enum("procedure", ("normal", "accelerated", "manifestly_unfounded")), _opt("notified_on", "date"),
    ),
    _type("appeal_filed", "protection", _req("country", "country"), _opt("body")),
    _type(
        "appeal_decided", "protection",
        _req("country", "country"), _enum("outcome", ASYLUM_OUTCOMES, True),
    ),
    _type(
        "travel_permit_requested", "protection",
        _req("country", "country"), _enum("purpose", ("asylum", "humanitarian", "family", "work"), True),
    ),
    _type(
        "travel_permit_decided", "protection",
        _req("country", "country"), _enum("outcome", ("granted", "refused"), True),
        _opt("valid_until", "date"),
    ),
    # Safety and contact
    # Version 2 adds who made the threat, whom they claimed to be and how it reached the person.
    _type(
        "threat_reported", "safety",
        _enum("kind", ("calls", "surveillance", "approach", "online", "abduction_attempt"), True),
        _secret("description", "text"),
        _secret("made_by", "text"),
        _enum("claimed_identity", CLAIMED_IDENTITIES),
        _enum("channel", ("phone_call", "messenger", "in_person", "letter", "online", "relatives", "other")),
        version=2,
    ),
    _type(
        "risk_assessed", "safety",
        _enum("level", ("low", "medium", "high", "critical"), True), _opt("reasons", "text"),
    ),
    _type("check_in_plan_set", "safety", _req("every_days", "int", minimum=1, maximum=90)),
    _type("contact_made", "safety", _opt("channel")),
    # Support
    _type("lawyer_assigned", "support", _req("name"), _opt("organization")),
    _type(
        "assistance_provided", "support",
        _enum("kind", ("housing", "funds", "legal", "medical", "psychological", "employment",
                       "travel"), True),
        # An upper bound keeps absurd amounts (1e308) out of sums and reports.
        _opt("amount", "number", minimum=0, maximum=1_000_000_000_000),
        _opt("currency", pattern="[A-Z]{3}",
             description='a 3-letter currency code in capitals, like "EUR"'),
    ),
    _type("referral_made", "support", _req("organization")),
    _type("reminder_set", "support", _req("title"), _req("due_on", "date")),
    # Follow-ups: tasks with an owner, named by the id of the follow_up_set event.
    _type(
        "follow_up_set", "support",
        _req("title"), _req("owner", "username"), _req("due_on", "date"),
        _opt("deadline_key", max_length=500),
    ),
    _type("follow_up_done", "support", _req("follow_up", "event_ref"), _opt("comment", "text")),
    _type("follow_up_snoozed", "support", _req("follow_up", "event_ref"), _req("until", "date")),
    _type("follow_up_reassigned", "support", _req("follow_up", "event_ref"), _req("owner", "username")),
    # Deadlines, corrections and closing
    _type(
        "deadline_resolved", "closing",
        _req("deadline_key", max_length=500), _enum("resolution", ("met", "moot", "dismissed"), True),
        _opt("comment", "text"),
    ),
    _type(
        "event_corrected", "closing",
        _req("event_id", "event_ref"), _req("data", "object"), _opt("occurred_on", "date"),
        _req("reason", "text"),
    ),
    _type("event_retracted", "closing", _req("event_id", "event_ref"), _req("reason", "text")),
    _type(
        "case_closed", "closing",
        _enum("outcome", ("protection_granted", "resettled", "returned", "lost_contact", "detained",
                          "deceased", "other"), True),
    ),
    _type("case_reopened", "closing", _opt("reason", "text")),
    _type("personal_data_erased", "closing", _req("reason", "text"), api_writable=False),
)
# fmt: on

#: The largest attachment the catalogue accepts; an installation's limit (ATTACHMENT_MAX_BYTES) is lower.
ATTACHMENT_SIZE_CAP = 2**40
# Files attached to a case: written by uploading the file (never by POST /events), which stores its
# encrypted bytes first. The hash is in the event and so in the chain; the file name can say who the
# person is, so it is a secret field.
_ATTACHMENT_TYPES = (
    EventType(
        "attachment_added",
        (
            _req("sha256", pattern="[0-9a-f]{64}", description="the SHA-256 of the file, 64 hex digits"),
            Field("name", "str", required=True, sensitive=True, max_length=255),
            _req(
                "media_type", pattern="[a-z]+/[a-z0-9.+-]+", description="a media type, like application/pdf"
            ),
            _req("size", "int", minimum=1, maximum=ATTACHMENT_SIZE_CAP),
            _opt("supports_event", "event_ref"),
            _opt("thumbnail", "bool"),
            _opt("metadata_found", max_length=200),
        ),
        schema_version=1,
        group="attachments",
        api_writable=False,
    ),
)
_ALL_TYPES = _TYPES + _ATTACHMENT_TYPES

#: Every event type, by name, in the catalogue's order.
CATALOGUE: dict[str, EventType] = {t.name: t for t in _ALL_TYPES}
#: The (s) fields of each type.
SENSITIVE: dict[str, frozenset[str]] = {t.name: t.sensitive_fields for t in _ALL_TYPES}
#: Every field name that is sensitive in some type: what a correction of an unknown target hides.
_EVER_SENSITIVE: frozenset[str] = frozenset().union(*SENSITIVE.values())
#: Date fields that must not lie before another date field of the same payload.
DATE_ORDER: dict[str, tuple[str, str]] = {"stay_permitted": ("valid_from", "valid_until")}
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _known(type_name: object) -> EventType:
    if isinstance(type_name, str) and type_name in CATALOGUE:
        return CATALOGUE[type_name]
    raise ValidationError({"type": "is not a known event type"})


def validate_data(type_name: str, data: object) -> dict[str, Any]:
    """The normalized payload of a `type_name` event, or ValidationError naming every bad field."""
    return check_payload(_known(type_name), data, DATE_ORDER.get(type_name))


def validate_occurred_on(type_name: str, value: object, today: date) -> date:
    """The date on which a `type_name` event happened, checked against the calendar and `today`."""
    event_type = _known(type_name)
    text = value.strip() if isinstance(value, str) else value
    day = parse_date(text)
    future = ValidationError({"occurred_on": f"must not be in the future (after {today.isoformat()})"})
    if day is None:
        # A real date past the calendar's upper bound (2999-01-01) is refused for lying in the future,
        # not for being malformed.
        if event_type.past_only and _calendar_date_after(text, today):
            raise future
        latest = today if event_type.past_only else LATEST_DATE
        message = f"must be a real calendar date written YYYY-MM-DD, from {EARLIEST_DATE} to {latest}"
        raise ValidationError({"occurred_on": message})
    if event_type.past_only and day > today:
        raise future
    return day


def _calendar_date_after(text: object, today: date) -> bool:
    if not isinstance(text, str) or not _ISO_DAY.fullmatch(text):
        return False
    try:
        return date.fromisoformat(text) > today
    except ValueError:
        return False


def validate_date_precision(value: object) -> str:
    """The date precision of an event: "day" when not given, else one of DATE_PRECISIONS."""
    if value is None:
        return "day"
    if isinstance(value, str) and value in DATE_PRECISIONS:
        return value
    raise ValidationError({"date_precision": "must be one of " + ", ".join(DATE_PRECISIONS)})


def data_schema(type_name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a `type_name` event's payload."""
    return payload_schema(CATALOGUE[type_name])


def event_type_schema(type_name: str) -> dict[str, Any]:
    """What GET /event-types says about one type."""
    event_type = CATALOGUE[type_name]
    return {
        "type": type_name,
        "schema_version": event_type.schema_version,
        "group": event_type.group,
        "api_writable": event_type.api_writable,
        "sensitive_fields": [f.name for f in event_type.fields if f.sensitive],
        "schema": data_schema(type_name),
    }


#: (type, stored schema_version) -> function that lifts such a payload to schema_version + 1.
UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _same_payload(data: dict[str, Any]) -> dict[str, Any]:
    # Each of these versions only loosened or re-marked fields: a version 1 payload is a valid version 2
    # one as it stands. A version 1 note or `who` was stored in clear and stays so; readers hide the
    # fields marked sensitive now from those who may not see them (`hide_sensitive`).
    return dict(data)


UPCASTERS[("note_added", 1)] = _same_payload
UPCASTERS[("asylum_applied", 1)] = _same_payload
UPCASTERS[("relatives_pressured", 1)] = _same_payload


def hide_sensitive(type_name: str, data: dict[str, Any], target_type: str | None = None) -> dict[str, Any]:
    """A copy of an upcast payload without the fields the catalogue marks sensitive now (of a correction:
    of its new payload, when the target's type is known), whether sealed or stored in clear before
    they were marked."""
    hidden = SENSITIVE.get(type_name, frozenset())
    out = {k: v for k, v in data.items() if k not in hidden}
    inner = out.get("data")
    if type_name == "event_corrected" and isinstance(inner, dict):
        nested = SENSITIVE.get(target_type or "", _EVER_SENSITIVE)
        out["data"] = {k: v for k, v in inner.items() if k not in nested}
    return out


def _threat_reported_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Version 1 did not ask whom the maker claimed to be: unknown. Who made it and the channel stay absent.
    return {**data, "claimed_identity": data.get("claimed_identity", "unknown")}


UPCASTERS[("threat_reported", 1)] = _threat_reported_v2

#: The key of an `event_corrected` payload that records the schema version of its new payload (`data`).
#: Corrections written before it existed carry none: every type was at version 1 then.
NESTED_VERSION = "data_schema_version"


def upcast_payload(
    type_name: str, schema_version: int, data: dict[str, Any], target_type: str | None = None
) -> dict[str, Any]:
    """The one upcasting step of every stored payload read: lifted to its type's current version and,
    for an `event_corrected` whose target's type is given, its new payload lifted by that type (the
    key recording the nested version is then dropped: the payload is at the current version)."""
    data = upcast(type_name, schema_version, data)
    if type_name == "event_corrected" and target_type is not None:
        data = upcast_correction(data, target_type)
    return data


def upcast_correction(data: Mapping[str, Any], target_type: str) -> dict[str, Any]:
    """An `event_corrected` payload (at its own current version) with its new payload lifted to the
    current version of its target's type, without the key that recorded the version it was written at."""
    out = {k: v for k, v in data.items() if k != NESTED_VERSION}
    if isinstance(out.get("data"), dict):
        nested = data.get(NESTED_VERSION, 1)
        version = nested if isinstance(nested, int) and not isinstance(nested, bool) else 1
        out["data"] = upcast(target_type, version, out["data"])
    return out


def upcast(type_name: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
    """A stored payload lifted from its schema_version to the type's current one."""
    event_type = CATALOGUE.get(type_name)
    if event_type is None:
        raise ValueError(f"unknown event type {type_name!r}")
    if not 1 <= schema_version <= event_type.schema_version:
        raise ValueError(
            f"{type_name} has no schema version {schema_version} (current: {event_type.schema_version})"
        )
    for version in range(schema_version, event_type.schema_version):
        step = UPCASTERS.get((type_name, version))
        if step is None:
            raise ValueError(f"no upcaster for {type_name} from schema version {version}")
        data = step(data)
    return data
