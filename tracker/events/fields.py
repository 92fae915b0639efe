"""The catalogue's vocabulary: fields and event types, how a payload is checked, its JSON Schema."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from tracker.events.countries import COUNTRY_CODES

KINDS = frozenset(
    {"str", "text", "country", "enum", "date", "int", "number", "bool", "event_ref", "username", "object"}
)
DEFAULT_MAX_LENGTH = {"str": 200, "text": 5000}
#: Dates outside this range are typos; the upper bound also keeps date arithmetic (due + period) safe.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)

USERNAME_PATTERN = r"[a-z0-9][a-z0-9_.-]{1,39}"
UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# [0-9], not \d: \d also matches other scripts' digits, which date.fromisoformat would then see.
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_USERNAME_RE = re.compile(USERNAME_PATTERN)
_UUID_RE = re.compile(UUID_PATTERN)
_STRING_KINDS = frozenset({"str", "text", "country", "enum", "date", "event_ref", "username"})


class ValidationError(Exception):
    """An event (or its payload) was rejected; `fields` maps each bad field to what is wrong with it."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields: dict[str, str] = dict(fields)
        super().__init__(self.fields)

    def __str__(self) -> str:
        if not self.fields:
            return "The event was rejected."
        return "The event was rejected: " + "; ".join(f"{k} {msg}" for k, msg in self.fields.items()) + "."


class Invalid(Exception):
    """One value is bad; the message says why (without echoing the value, which may be sensitive)."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field of an event payload."""

    name: str
    kind: str
    required: bool = False
    sensitive: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | float | None = None
    maximum: int | float | None = None
    max_length: int | None = None
    pattern: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r} for {self.name!r}")
        if (self.kind == "enum") != bool(self.choices):
            raise ValueError(f"field {self.name!r}: choices go with kind 'enum' and only with it")
        if self.max_length is None and self.kind in DEFAULT_MAX_LENGTH:
            object.__setattr__(self, "max_length", DEFAULT_MAX_LENGTH[self.kind])


@dataclass(frozen=True, slots=True)
class EventType:
    """One event type: its payload fields and how it may be written."""

    name: str
    fields: tuple[Field, ...]
    schema_version: int
    group: str
    past_only: bool = True
    api_writable: bool = True

    def field(self, name: str) -> Field:
        """The payload field called `name` (KeyError when the type has none)."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(f"{self.name} has no field {name!r}")

    @property
    def field_names(self) -> tuple[str, ...]:
        """The payload's field names, in declaration order."""
        return tuple(f.name for f in self.fields)

    @property
    def required_fields(self) -> tuple[str, ...]:
        """The names of the fields marked * in the catalogue."""
        return tuple(f.name for f in self.fields if f.required)

    @property
    def sensitive_fields(self) -> frozenset[str]:
        """The names of the fields marked (s): encrypted at rest, hidden from auditors."""
        return frozenset(f.name for f in self.fields if f.sensitive)


def parse_date(value: object) -> date | None:
    """The date written as "YYYY-MM-DD" in `value`, or None when it is not one (or out of range)."""
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if EARLIEST_DATE <= day <= LATEST_DATE else None


def clean(field: Field, value: object) -> Any:
    """The normalized value; None when absent, "" when a blank string. Raises Invalid."""
    if value is None:
        return None
    if field.kind in _STRING_KINDS:
        if not isinstance(value, str) or (field.max_length is None and len(value) > 300):
            raise Invalid(_wrong(field))
        text = _clean_string(value, field.max_length or 300, field.kind)
        return _check_string(field, text) if text else ""
    if field.kind == "bool":
        if not isinstance(value, bool):
            raise Invalid("must be true or false")
        return value
    if field.kind in ("int", "number"):
        return _check_number(field, value)
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise Invalid("must be a JSON object")
    return dict(value)


#: Bidi controls: embeddings, overrides, isolates and marks, which make text display other than it reads.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: The joiners that Persian (ZWNJ), Indic scripts and emoji need: the only format characters kept.
JOINERS = frozenset("\u200c\u200d")
#: Unicode's control characters (category Cc: U+0000-U+001F, U+007F-U+009F) but newline, carriage return
#: (read as a newline) and tab, lone surrogates (Cs, which no text can store), the line and paragraph
#: separators and the bidi controls.
_NOT_IN_TEXT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029" + "".join(BIDI_CONTROLS) + "]"
)
#: What a single-line value may have around it: the line breaks and tabs of a pasted cell.
PADDING = " \t\n\r"
ONE_LINE = "must be on one line, without control or invisible formatting characters"
MULTI_LINE = "must not contain control characters (other than newline and tab) or bidi controls"
VISIBLE = "must contain a visible character, and begin and end with one"
_VISIBLE = re.compile("[^\\s\u200c\u200d]")


def is_one_line(text: str) -> bool:
    """Whether `text` holds no line break, control, separator or format character (but the joiners).

    A single-line value ends up in mail subjects, calendar summaries, file names and table cells:
    a line break there splits a header, a right-to-left override disguises what is shown.
    """
    return NOT_ONE_LINE.search(text) is None


def _clean_string(value: str, limit: int, kind: str) -> str:
    text = value.strip()
    if len(text) > limit:  # checked before the per-character scan so a huge string costs little
        raise Invalid(f"must be at most {limit} characters long")
    # Checked as the JSON Schema's patterns see them: a line break or tab around a single-line value
    # (a pasted cell) is stripped, but any other character that is not allowed counts where it is.
    if kind == "text":
        if _NOT_IN_TEXT.search(value):
            raise Invalid(MULTI_LINE)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    elif not _one_line_cell(text, value):
        raise Invalid(ONE_LINE)
    # A joiner joins the characters beside it: at an edge it joins nothing, and a value of joiners and
    # blanks alone shows nothing at all.
    if text and (text[0] in JOINERS or text[-1] in JOINERS or _VISIBLE.search(text) is None):
        raise Invalid(VISIBLE)
    text = unicodedata.normalize("NFC", text)
    if len(text) > limit:
        raise Invalid(f"must be at most {limit} characters long")
    return text


def _one_line_cell(text: str, value: str) -> bool:
    # `text` is `value` stripped: what was around it may only be PADDING (most values have none).
    return is_one_line(text) and (len(text) == len(value) or is_one_line(value.strip(PADDING)))


def _char_class(excluded: Iterable[str], negated: bool = True) -> str:
    """A regular-expression class of every character but `excluded` (or of those only), as ranges."""
    points = sorted(ord(c) for c in excluded)
    ranges: list[list[int]] = []
    for point in points:
        if ranges and point == ranges[-1][1] + 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    body = "".join(_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}" for a, b in ranges)
    return f"[^{body}]" if negated else f"[{body}]"


def _escape(point: int) -> str:
    # \uXXXX means the same to Python's re and to ECMA-262; a character beyond it is written as itself.
    return f"\\u{point:04x}" if point <= 0xFFFF else chr(point)


def _excluded(multi_line: bool) -> list[str]:
    if multi_line:
        # Surrogates are left out: JSON cannot carry a lone one, and a decoder refuses it anyway.
        return [c for c in map(chr, range(0xA0)) if _NOT_IN_TEXT.match(c)] + [
            "\u2028",
            "\u2029",
            *BIDI_CONTROLS,
        ]
    return [
        chr(p)
        # Unicode has format characters in the first two planes and among the tags of plane 14 only.
        for p in [*range(0x20000), *range(0xE0000, 0xE1000)]
        if unicodedata.category(chr(p)) in ("Cc", "Cf", "Zl", "Zp") and chr(p) not in JOINERS
    ]


#: The characters refused in single-line and in multi-line values (also for the API's document).
ONE_LINE_EXCLUDED = tuple(_excluded(False))
MULTI_LINE_EXCLUDED = tuple(_excluded(True))
char_class = _char_class
# Lone surrogates (Cs) too, which no text can store (and JSON cannot carry, so the pattern leaves them out).
NOT_ONE_LINE = re.compile(_char_class(ONE_LINE_EXCLUDED, negated=False)[:-1] + "\ud800-\udfff]")
#: The JSON Schema patterns that say the same as is_one_line and the multi-line check.
ONE_LINE_PATTERN = f"^[ \\t\\n\\r]*{_char_class(ONE_LINE_EXCLUDED)}*[ \\t\\n\\r]*$"
MULTI_LINE_PATTERN = f"^{_char_class(MULTI_LINE_EXCLUDED)}*$"


def _check_string(field: Field, text: str) -> str:
    if not _fits(field, text):
        raise Invalid(_wrong(field))
    return text.lower() if field.kind == "event_ref" else text


def _fits(field: Field, text: str) -> bool:
    kind = field.kind
    if kind == "country":
        return text in COUNTRY_CODES
    if kind == "enum":
        return text in field.choices
    if kind == "date":
        return parse_date(text) is not None
    if kind == "event_ref":
        return _UUID_RE.fullmatch(text) is not None
    if kind == "username":
        return _USERNAME_RE.fullmatch(text) is not None
    return field.pattern is None or re.fullmatch(field.pattern, text) is not None


def _check_number(field: Field, value: object) -> int | float:
    # bool is a subclass of int in Python, but true is not a number in JSON.
    if field.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise Invalid("must be a whole number")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid("must be a finite number")
    low, high = field.minimum, field.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = [f"at least {low}" if low is not None else "", f"at most {high}" if high is not None else ""]
        raise Invalid("must be " + " and ".join(b for b in bounds if b))
    return value


def _wrong(field: Field) -> str:
    """What a value of this field must be, said without echoing the value (it may be sensitive)."""
    kind = field.kind
    if kind == "country":
        return 'must be an ISO 3166-1 alpha-2 country code in capitals, like "KZ"'
    if kind == "enum":
        return "must be one of " + ", ".join(field.choices)
    if kind == "date":
        return f"must be a real calendar date written YYYY-MM-DD, from {EARLIEST_DATE} to {LATEST_DATE}"
    if kind == "event_ref":
        return "must be the id of an event (a UUID)"
    if kind == "username":
        return (
            "must be a username: 2 to 40 lowercase letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    if field.description:
        return f"must be {field.description}"
    if field.pattern is not None:
        return f"must be a string matching {field.pattern}"
    return "must be a string"


def field_schema(field: Field) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one field's value."""
    kind = field.kind
    schema: dict[str, Any]
    if kind in ("str", "text"):
        schema = {"type": "string", "maxLength": field.max_length}
        if field.required:
            schema["minLength"] = 1
        if field.pattern is not None:
            schema["pattern"] = f"^{field.pattern}$"
        else:
            schema["pattern"] = MULTI_LINE_PATTERN if kind == "text" else ONE_LINE_PATTERN
        if kind == "text":
            schema["x-multiline"] = True
    elif kind == "country":
        schema = {
            "type": "string",
            "pattern": "^[A-Z]{2}$",
            "description": "ISO 3166-1 alpha-2 country code (an officially assigned one)",
        }
    elif kind == "enum":
        schema = {"type": "string", "enum": list(field.choices)}
    elif kind == "date":
        schema = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    elif kind in ("int", "number"):
        schema = {"type": "integer" if kind == "int" else "number"}
        if field.minimum is not None:
            schema["minimum"] = field.minimum
        if field.maximum is not None:
            schema["maximum"] = field.maximum
    elif kind == "bool":
        schema = {"type": "boolean"}
    elif kind == "event_ref":
        schema = {"type": "string", "format": "uuid", "description": "id of an event of the same case"}
    elif kind == "username":
        schema = {"type": "string", "pattern": f"^{USERNAME_PATTERN}$"}
    else:
        schema = {"type": "object"}
    if field.description:
        schema["description"] = field.description
    if field.sensitive:
        schema["x-sensitive"] = True
    return schema


def check_payload(
    event_type: EventType, data: object, date_order: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The normalized payload, or ValidationError naming every bad field (and every unknown one)."""
    if not isinstance(data, dict):
        raise ValidationError({"data": "must be a JSON object"})
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for field in event_type.fields:
        raw = data.get(field.name)
        try:
            value = clean(field, raw)
        except Invalid as exc:
            errors[field.name] = str(exc)
            continue
        if value is None or value == "":
            if field.required:
                errors[field.name] = "is required" if raw is None else "must not be empty"
        else:
            out[field.name] = value
    known = set(event_type.field_names)
    for key in data:
        if not isinstance(key, str) or key not in known:
            errors[_label(key)] = f"is not a field of {event_type.name}"
    if date_order and date_order[0] in out and date_order[1] in out:
        earlier, later = date_order
        if out[later] < out[earlier]:
            errors.setdefault(later, f"must not be before {earlier}")
    if errors:
        raise ValidationError(errors)
    return out


def _label(key: object) -> str:
    # An unknown key is echoed back as a field name, so keep a hostile one short and printable.
    text = key if isinstance(key, str) else repr(key)
    short = "".join(c if c.isprintable() else "?" for c in text[:60])
    return short + "…" if len(text) > 60 else short


def payload_schema(event_type: EventType) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an event type's payload."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": event_type.name,
        "type": "object",
        "properties": {f.name: field_schema(f) for f in event_type.fields},
        "required": list(event_type.required_fields),
        "additionalProperties": False,
    }
