"""Commands to record events: the envelope's validation and the case rules that need the case's history."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from tracker.events.catalogue import (
    CATALOGUE,
    DATE_PRECISIONS,
    NESTED_VERSION,
    ValidationError,
    validate_data,
    validate_occurred_on,
)
from tracker.events.record import CORRECTION_TYPES, Recorded
from tracker.projections.status import build_state

ENVELOPE = ("type", "occurred_on", "date_precision", "data", "expected_version")
#: Event-reference fields (but criminal_case, checked on its own) and the type of event each must name.
REFERENCES = {"related_person": "related_person_recorded", "follow_up": "follow_up_set"}
#: The types that name a user as the owner of a follow-up.
OWNED = frozenset({"follow_up_set", "follow_up_reassigned"})
NOT_TARGETS = frozenset({"event_corrected", "event_retracted", "personal_data_erased"})


@dataclass(frozen=True, slots=True)
class EventInput:
    """One event to record, validated against the catalogue; `data` is plain (not yet sealed)."""

    type: str
    occurred_on: date
    date_precision: str
    data: dict[str, Any]


def parse_precision(value: Any) -> str:
    if value is None:
        return "day"
    if value not in DATE_PRECISIONS:
        raise ValidationError({"date_precision": f"must be one of {', '.join(DATE_PRECISIONS)}"})
    return str(value)


def parse_expected_version(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**31:
        raise ValidationError({"expected_version": "must be a whole number of 0 or more"})
    return value


def parse_event(body: Any, today: date, *, allow_internal: bool = False) -> EventInput:
    """The event of an API body `{"type", "occurred_on", "date_precision"?, "data"}`."""
    if not isinstance(body, dict):
        raise ValidationError({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    for key in body:
        if key not in ENVELOPE:
            errors[str(key)[:60]] = "unknown field"
    type_name = body.get("type")
    if not isinstance(type_name, str) or type_name not in CATALOGUE:
        errors["type"] = "unknown event type" if isinstance(type_name, str) else "an event type is required"
    elif not CATALOGUE[type_name].api_writable and not allow_internal:
        errors["type"] = f"{type_name} is written by its own action only"
    if errors:
        raise ValidationError(errors)
    assert isinstance(type_name, str)
    occurred_on = None
    try:
        if body.get("occurred_on") is None:
            raise ValidationError({"occurred_on": "the date it happened is required (YYYY-MM-DD)"})
        occurred_on = validate_occurred_on(type_name, body.get("occurred_on"), today)
    except ValidationError as exc:
        errors.update(exc.fields)
    try:
        precision = parse_precision(body.get("date_precision"))
    except ValidationError as exc:
        errors.update(exc.fields)
    data: dict[str, Any] = {}
    try:
        raw = body.get("data")
        data = validate_data(type_name, {} if raw is None else raw)
    except ValidationError as exc:
        errors.update(exc.fields)
    if errors or occurred_on is None:
        raise ValidationError(errors)
    return EventInput(type_name, occurred_on, precision, data)


def parse_case(body: Any, today: date) -> EventInput:
    """The `case_opened` event of a `POST /cases` body: its fields plus optional occurred_on."""
    if not isinstance(body, dict):
        raise ValidationError({"body": "must be a JSON object"})
    fields = {k: v for k, v in body.items() if k not in ("occurred_on", "date_precision")}
    envelope = {
        "type": "case_opened",
        "data": fields,
        # Absent (or null) means today; "" or false is a bad date, not today.
        "occurred_on": today.isoformat() if body.get("occurred_on") is None else body["occurred_on"],
    }
    if "date_precision" in body:
        envelope["date_precision"] = body["date_precision"]
    return parse_event(envelope, today)


#: Types that can change whether the case is open: after one, the state is refolded.
_STATE_CHANGING = frozenset({"case_closed", "case_reopened", "event_corrected", "event_retracted"})


@dataclass
class CaseContext:
    """What the rules of one case need to know of its history.

    `story` holds the case's raw events when they are known (always for a batch that starts a case):
    then `state` follows the status fold over the effective history (corrections and retractions
    applied), exactly as the status read model does, however the events reach the store.
    """

    version: int
    state: str
    types: dict[str, str] = field(default_factory=dict)
    retracted: set[str] = field(default_factory=set)
    deadline_keys: set[str] = field(default_factory=set)
    story: list[Recorded] | None = None

    def __post_init__(self) -> None:
        if self.version == 0 and self.story is None:
            self.story = []

    def remember(self, event_id: str, event: EventInput) -> None:
        self.version += 1
        self.types[event_id] = event.type
        if event.type == "event_retracted":
            self.retracted.add(event.data["event_id"])
        if self.story is None:
            # Only the erasure appends without the history at hand; it changes no rule's answer.
            return
        self.story.append(
            Recorded(
                event_id, "", self.version, event.type, event.occurred_on, event.date_precision,
                _NEVER, "", event.data,
            )
        )  # fmt: skip
        if event.type in _STATE_CHANGING:
            self.state = build_state(self.story)["state"] or "open"


_NEVER = datetime.min.replace(tzinfo=UTC)


def check(event: EventInput, ctx: CaseContext, today: date, user_exists: Callable[[str], bool]) -> EventInput:
    """The event as it may be appended next to the case, or a ValidationError naming the field."""
    data: Mapping[str, Any] = event.data
    if event.type == "case_opened" and ctx.version != 0:
        raise ValidationError({"type": "case_opened must be the first event of a case (version 1)"})
    if event.type != "case_opened" and ctx.version == 0:
        raise ValidationError({"type": "a case starts with case_opened"})
    check_references(event.type, data, ctx, user_exists)
    if event.type == "case_closed" and ctx.state == "closed":
        raise ValidationError({"type": "the case is already closed"})
    if event.type == "case_reopened" and ctx.state != "closed":
        raise ValidationError({"type": "the case is not closed"})
    if event.type == "personal_data_erased" and "personal_data_erased" in ctx.types.values():
        raise ValidationError({"type": "the personal data of this case was already erased"})
    if event.type in ("event_corrected", "event_retracted"):
        return _check_target(event, ctx, today, user_exists)
    return event


def check_references(
    type_name: str, data: Mapping[str, Any], ctx: CaseContext, user_exists: Callable[[str], bool]
) -> None:
    """The events, users and deadlines a payload names must exist (in this case)."""
    ref = data.get("criminal_case")
    if ref is not None and ctx.types.get(ref) != "criminal_case_opened":
        raise ValidationError({"criminal_case": "no criminal_case_opened event with this id in this case"})
    for name, wanted in REFERENCES.items():
        ref = data.get(name)
        if ref is not None and ctx.types.get(ref) != wanted:
            raise ValidationError({name: f"no {wanted} event with this id in this case"})
    if type_name in ("caseworker_assigned", "caseworker_unassigned") and not user_exists(data["username"]):
        raise ValidationError({"username": f"no such user: {data['username']}"})
    supported = data.get("supports_event") if type_name == "attachment_added" else None
    if supported is not None and (
        ctx.types.get(supported) in (None, *CORRECTION_TYPES, "attachment_added")
        or supported in ctx.retracted
    ):
        raise ValidationError(
            {"supports_event": "no event with this id in this case that a file can support"}
        )
    if type_name in OWNED and not user_exists(data["owner"]):
        raise ValidationError({"owner": f"no such user: {data['owner']}"})
    if type_name == "deadline_resolved" and data["deadline_key"] not in ctx.deadline_keys:
        raise ValidationError({"deadline_key": "no deadline with this key in this case"})
    key = data.get("deadline_key")
    if type_name == "follow_up_set" and key is not None and key not in ctx.deadline_keys:
        raise ValidationError({"deadline_key": "no deadline with this key in this case"})


def _check_target(
    event: EventInput, ctx: CaseContext, today: date, user_exists: Callable[[str], bool]
) -> EventInput:
    target = event.data["event_id"]
    target_type = ctx.types.get(target)
    if target_type is None:
        raise ValidationError({"event_id": "no event with this id in this case"})
    if target_type in NOT_TARGETS:
        raise ValidationError({"event_id": f"a {target_type} event cannot be corrected or retracted"})
    if target in ctx.retracted:
        raise ValidationError({"event_id": "this event was retracted"})
    if target_type == "attachment_added" and event.type == "event_corrected":
        # A correction replaces the payload: the hash would no longer be the stored file's.
        raise ValidationError(
            {"event_id": "an attachment cannot be corrected; retract it and attach the file again"}
        )
    if event.type == "event_retracted":
        if target_type == "case_opened":
            raise ValidationError({"event_id": "case_opened cannot be retracted; close the case instead"})
        return event
    data = dict(event.data)
    # The new payload is stored with the schema version it was written at, so it can be upcast later.
    data[NESTED_VERSION] = CATALOGUE[target_type].schema_version
    try:
        data["data"] = validate_data(target_type, data["data"])
        # The corrected payload must name real events and users, as the event itself had to.
        check_references(target_type, data["data"], ctx, user_exists)
    except ValidationError as exc:
        raise ValidationError({f"data.{k}": v for k, v in exc.fields.items()}) from None
    if "occurred_on" in data:
        try:
            validate_occurred_on(target_type, data["occurred_on"], today)
        except ValidationError as exc:
            raise ValidationError(
                {"data.occurred_on": exc.fields.get("occurred_on", "invalid date")}
            ) from None
    return EventInput(event.type, event.occurred_on, event.date_precision, data)
