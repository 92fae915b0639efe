"""The OpenAPI document's schemas: request bodies built from the event catalogue, and the answers."""

from __future__ import annotations

from typing import Any

from tracker.events.catalogue import CATALOGUE, DATE_PRECISIONS, Field, data_schema
from tracker.events.countries import COUNTRY_CODES
from tracker.events.fields import (
    JOINERS,
    MULTI_LINE_EXCLUDED,
    ONE_LINE_EXCLUDED,
    UUID_PATTERN,
    char_class,
)

# What the payload validation does to a string before judging it: strip the whitespace Python's
# str.strip() knows (the blanks), refuse the characters its kind refuses (single-line values may have
# line breaks and tabs only around them), count the length without the blanks around, and want the
# value to begin and end with a visible character. Written as explicit classes so that every regex
# dialect (ECMA, Python, Rust) reads them alike.
_BLANKS = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_PADDING = r"[ \t\n\r]*"


def _classes(excluded: tuple[str, ...]) -> tuple[str, str, str]:
    """(a blank the kind allows, any character it allows, a character a value may begin or end with)."""
    refused = set(excluded)
    blank = char_class([c for c in _BLANKS if c not in refused], negated=False)
    return blank, char_class(refused), char_class(refused | set(_BLANKS) | JOINERS)


_ONE_LINE = _classes(ONE_LINE_EXCLUDED)
_MULTI_LINE = _classes(MULTI_LINE_EXCLUDED)
BLANK_TEXT = {
    "type": "string",
    "pattern": f"^{_PADDING}{_ONE_LINE[0]}*{_PADDING}$",
    "description": "blank: the same as absent",
}

#: Dates the catalogue accepts: real calendar days from 1900-01-01 to 2199-12-31.
DATE_PATTERN = r"^(?:19[0-9]{2}|2[01][0-9]{2})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"
CATALOGUE_DATE = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
NULL = {"type": "null"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _text(field: Field, base: dict[str, Any]) -> dict[str, Any]:
    # The length limit holds once the blanks around are stripped, so it lives in the pattern: a
    # maxLength would count them too.
    limit = field.max_length or 1
    blank, char, edge = _MULTI_LINE if field.kind == "text" else _ONE_LINE
    core = f"{edge}(?:{char}{{0,{limit - 2}}}{edge})?" if field.pattern is None else field.pattern
    # A multi-line value may have line breaks anywhere; a single-line one only in the padding around.
    before, after = (
        (f"{blank}*", f"{blank}*")
        if field.kind == "text"
        else (
            f"{_PADDING}{blank}*",
            f"{blank}*{_PADDING}",
        )
    )
    pattern = f"^{before}{core}{after}$" if field.required else f"^{before}(?:{core})?{after}$"
    schema = {k: v for k, v in base.items() if k not in ("maxLength", "pattern")}
    note = f"at most {limit} characters once the blanks around are stripped"
    schema["description"] = f"{base['description']}; {note}" if base.get("description") else note
    return {**schema, "pattern": pattern}


def field_value_schema(field: Field, base: dict[str, Any]) -> dict[str, Any]:
    """One payload field as the API accepts it: the catalogue's schema made exact for a generator."""
    kind = field.kind
    schema = dict(base)
    schema.pop("minLength", None)
    if kind in ("str", "text"):
        schema = _text(field, schema)
    elif kind == "country":
        schema = ref("CountryCode")
    elif kind == "date":
        schema["pattern"] = DATE_PATTERN
    elif kind == "event_ref":
        schema["pattern"] = f"^{UUID_PATTERN}$"
    if field.required:
        return schema
    # An optional field may be null or (when a string) blank: both mean "not given".
    blank = [BLANK_TEXT] if base.get("type") == "string" and kind not in ("str", "text") else []
    outer: dict[str, Any] = {key: schema.pop(key) for key in ("description", "x-sensitive") if key in schema}
    return {"anyOf": [schema, *blank, NULL], **outer}


def payload_schema(type_name: str) -> dict[str, Any]:
    """The payload of one event type, field by field exact about what the server accepts."""
    schema = data_schema(type_name)
    event_type = CATALOGUE[type_name]
    schema.pop("$schema", None)
    schema["properties"] = {
        f.name: field_value_schema(f, schema["properties"][f.name]) for f in event_type.fields
    }
    return schema


def occurred_on(description: str) -> dict[str, Any]:
    return {**CATALOGUE_DATE, "description": description}


PRECISION = {
    "anyOf": [{"type": "string", "enum": list(DATE_PRECISIONS)}, NULL],
    "description": "how exact occurred_on is; day when absent",
}
EXPECTED_VERSION = {
    "anyOf": [{"type": "integer", "minimum": 0, "maximum": 2**31}, NULL],
    "description": "the case's version this event follows; 409 when the case has moved on",
}
PAST = "the day it happened (YYYY-MM-DD), not after today"


def new_case_schema() -> dict[str, Any]:
    """POST /cases: the case_opened fields and the envelope's occurred_on and date_precision."""
    schema = payload_schema("case_opened")
    schema["title"] = "NewCase"
    schema["properties"] = {
        **schema["properties"],
        "occurred_on": {"anyOf": [occurred_on(PAST + "; today when absent"), NULL]},
        "date_precision": PRECISION,
    }
    return schema


def new_event_branch(type_name: str) -> dict[str, Any]:
    """One branch of NewEvent: the envelope with `type` fixed and the type's payload."""
    return {
        "type": "object",
        "title": f"NewEvent.{type_name}",
        "required": ["type", "occurred_on", "data"],
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "const": type_name},
            "occurred_on": occurred_on(PAST),
            "date_precision": PRECISION,
            "expected_version": EXPECTED_VERSION,
            "data": ref(type_name),
        },
    }


#: Types a client may post to an existing case (a case is opened by POST /cases, never by an event).
POSTABLE = [name for name, et in CATALOGUE.items() if et.api_writable and name != "case_opened"]


def new_event_schema() -> dict[str, Any]:
    mapping = {name: f"#/components/schemas/NewEvent.{name}" for name in POSTABLE}
    return {
        "oneOf": [ref(f"NewEvent.{name}") for name in POSTABLE],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
DATE = {"type": "string", "format": "date"}
UUID = {"type": "string", "format": "uuid"}
DEADLINE = _object(
    ["key", "case_id", "kind", "title", "due_on", "days_left", "state", "source_event_id"],
    {
        "key": STRING,
        "case_id": UUID,
        "kind": STRING,
        "title": STRING,
        "due_on": DATE,
        "days_left": INTEGER,
        "state": {"type": "string", "enum": ["open", "overdue", "resolved", "superseded", "met"]},
        "source_event_id": {"type": ["string", "null"]},
    },
)
ALERT = _object(
    ["id", "deadline_key", "case_id", "pseudonym", "kind", "due_on", "threshold_days", "created_at"],
    {
        "id": INTEGER,
        "deadline_key": STRING,
        "case_id": UUID,
        "pseudonym": {"type": ["string", "null"]},
        "kind": STRING,
        "due_on": DATE,
        "threshold_days": {"type": ["integer", "null"]},
        "created_at": STRING,
        "acknowledged_at": {"type": ["string", "null"]},
        "days_left": {"type": "integer", "description": "days from today to due_on; negative when overdue"},
        "closed": {
            "description": "why the alert closed on its own (its deadline met, resolved, superseded, or "
            "made by no rule any more: gone), by which event type and on which day; null when it did not",
            "oneOf": [
                {"type": "null"},
                _object(
                    ["reason", "by", "on"],
                    {
                        "reason": {"type": "string", "enum": ["met", "resolved", "superseded", "gone"]},
                        "by": {"type": ["string", "null"]},
                        "on": {"type": ["string", "null"], "format": "date"},
                    },
                ),
            ],
        },
    },
)
EVENT_KEYS = [
    "id", "case_id", "version", "position", "type", "schema_version", "occurred_on", "date_precision",
    "recorded_at", "recorded_by", "data", "metadata", "hash",
]  # fmt: skip
EVENT = _object(
    EVENT_KEYS,
    {
        "id": UUID,
        "case_id": UUID,
        "version": INTEGER,
        "position": INTEGER,
        "type": {"type": "string", "enum": list(CATALOGUE)},
        "schema_version": INTEGER,
        "occurred_on": DATE,
        "date_precision": {"type": "string", "enum": list(DATE_PRECISIONS)},
        "recorded_at": STRING,
        "recorded_by": STRING,
        "data": {"type": "object"},
        "metadata": {"type": "object"},
        "hash": STRING,
    },
)


def answer_schemas() -> dict[str, Any]:
    """The shapes of the answers (and of the error body every 4xx carries)."""
    return {
        "Error": _object(
            ["error", "fields"],
            {
                "error": STRING,
                "fields": {"type": "object", "additionalProperties": STRING},
            },
        ),
        "Created": _object(["id", "version"], {"id": UUID, "version": {"type": "integer", "minimum": 1}}),
        "Event": EVENT,
        "AttachmentCreated": _object(
            ["id", "version", "media_type", "metadata_found"],
            {
                "id": UUID,
                "version": {"type": "integer", "minimum": 1},
                "media_type": STRING,
                "metadata_found": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["author", "last_modified_by"]},
                },
            },
        ),
        "NewAttachment": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {
                    "type": "string",
                    "contentMediaType": "application/octet-stream",
                    "description": "the file: PDF, JPEG, PNG, WebP or an office document",
                },
                "event_id": {
                    "type": "string",
                    "format": "uuid",
                    "description": "the event the file supports",
                },
                "occurred_on": {"type": "string", "format": "date", "description": "the day of the document"},
            },
        },
        "EventList": _object(["events"], {"events": {"type": "array", "items": ref("Event")}}),
        "Case": _object(
            ["id", "version", "status"], {"id": UUID, "version": INTEGER, "status": {"type": "object"}}
        ),
        "CaseList": _object(
            ["cases", "next_cursor"],
            {
                "cases": {"type": "array", "items": {"type": "object"}},
                "next_cursor": {"type": ["string", "null"]},
            },
        ),
        "StayPlan": _object(
            ["id", "plan"],
            {
                "id": UUID,
                "plan": {
                    "type": ["object", "null"],
                    "properties": {
                        "country": STRING,
                        "rule": {"type": "object"},
                        "as_of": DATE,
                        "present": {"type": "boolean"},
                        "leave_on": DATE,
                        "last_lawful_day": {"type": ["string", "null"], "format": "date"},
                        "lawful_until_leave": {"type": "boolean"},
                        "used_on_leave": {"type": "object"},
                        "earliest_return": {"type": ["string", "null"], "format": "date"},
                        "return_on": DATE,
                        "return_lawful": {"type": "boolean"},
                        "may_stay_until": {"type": ["string", "null"], "format": "date"},
                        "days_on_return": {"type": ["integer", "null"]},
                    },
                },
            },
        ),
        "Deadline": DEADLINE,
        "DeadlineList": _object(["deadlines"], {"deadlines": {"type": "array", "items": ref("Deadline")}}),
        "Alert": ALERT,
        "AlertList": _object(["alerts"], {"alerts": {"type": "array", "items": ref("Alert")}}),
        "EventTypeList": _object(
            ["event_types"],
            {
                "event_types": {
                    "type": "array",
                    "items": _object(
                        ["type", "schema_version", "group", "api_writable", "sensitive_fields", "schema"],
                        {
                            "type": STRING,
                            "schema_version": INTEGER,
                            "group": STRING,
                            "api_writable": {"type": "boolean"},
                            "sensitive_fields": {"type": "array", "items": STRING},
                            "schema": {"type": "object"},
                        },
                    ),
                }
            },
        ),
    }


def component_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {name: payload_schema(name) for name in CATALOGUE}
    schemas["CountryCode"] = {
        "type": "string",
        "enum": sorted(COUNTRY_CODES),
        "description": "an officially assigned ISO 3166-1 alpha-2 country code",
    }
    schemas["NewCase"] = new_case_schema()
    schemas["NewEvent"] = new_event_schema()
    schemas.update({f"NewEvent.{name}": new_event_branch(name) for name in POSTABLE})
    schemas.update(answer_schemas())
    return schemas
