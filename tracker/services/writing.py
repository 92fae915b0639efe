"""Recording events: the only writer of the event store."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.tables import UserRow
from tracker.auth.users import Actor, existing_usernames
from tracker.crypto.codec import seal_fields
from tracker.domain.commands import OWNED, CaseContext, EventInput, check
from tracker.events.catalogue import CATALOGUE, SENSITIVE, ValidationError, upcast_payload
from tracker.events.record import CORRECTION_TYPES
from tracker.ops.metrics import count_appends_on_commit
from tracker.projections.case_status import project
from tracker.projections.recorded import recorded
from tracker.projections.search import index_appended
from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow
from tracker.services.runtime import Forbidden, NotFound, Runtime
from tracker.store.events import ConcurrencyError, NewEvent, append, read_streams
from tracker.store.hashing import GENESIS, canonical_json
from tracker.store.tables import EventRow

ASSIGNING = frozenset({"caseworker_assigned", "caseworker_unassigned"})
#: Seconds an append waits for the append lock before StoreBusy (setting APPEND_LOCK_TIMEOUT_SECONDS).
DEFAULT_LOCK_TIMEOUT = 5.0
#: Tries of an append without an expected version when another write moved the case meanwhile.
TRIES = 3


def _check_owner(session: Session, case_id: str, event: EventInput, target: str | None) -> None:
    """A follow-up's owner must be a user who may see the case and record on it."""
    data = event.data.get("data", {}) if event.type == "event_corrected" and target in OWNED else event.data
    owner = data.get("owner") if event.type in OWNED or event.type == "event_corrected" else None
    if not isinstance(owner, str):
        return
    user = session.execute(sa.select(UserRow.role, UserRow.active).where(UserRow.username == owner)).first()
    if user is None:
        return  # an unknown user is refused by the case rules, naming the user
    who = Actor(owner, user.role)
    if not user.active or not who.may_record or not may_see(session, who, case_id):
        field = "data.owner" if event.type == "event_corrected" else "owner"
        raise ValidationError({field: f"{owner} may not see this case"})


def may_see(session: Session, actor: Actor, case_id: str) -> bool:
    if actor.sees_every_case:
        return session.get(CaseRow, case_id) is not None
    return session.get(AssignmentRow, (actor.username, case_id)) is not None


def _sensitive_names(event: EventInput, target_type: str | None) -> tuple[frozenset[str], frozenset[str]]:
    """The sensitive field names of an event's payload, and of a correction's new payload."""
    sensitive = SENSITIVE.get(event.type, frozenset())
    nested = SENSITIVE.get(target_type or "", frozenset()) if event.type == "event_corrected" else frozenset()
    return sensitive, nested


def sensitive_fields(event: EventInput, target_type: str | None) -> list[str]:
    """The sensitive fields an event carries (a correction: those of its new payload)."""
    sensitive, nested = _sensitive_names(event, target_type)
    inner = event.data.get("data", {}) if nested else {}
    return [n for n in sensitive if n in event.data] + [n for n in nested if n in inner]


def seal(event: EventInput, event_id: str, case_id: str, key: bytes | None, target_type: str | None) -> str:
    """The stored JSON text of a payload, its sensitive fields encrypted under the case key."""
    data = dict(event.data)
    sensitive, nested = _sensitive_names(event, target_type)
    touched = sensitive_fields(event, target_type)
    if touched and key is None:
        raise ValidationError(
            {touched[0]: "the personal data of this case was erased; it cannot be recorded"}
        )
    if key is not None:
        data = seal_fields(data, sensitive, key, case_id, event_id)
        if nested:
            data["data"] = seal_fields(data["data"], nested, key, case_id, event_id, "data.")
    return canonical_json(data)


def metadata_text(source: str, request_id: str | None, causation_id: str | None) -> str:
    meta: dict[str, Any] = {"source": source}
    if request_id:
        meta["request_id"] = request_id
    if causation_id:
        meta["causation_id"] = causation_id
    return canonical_json(meta)


def case_context(
    session: Session,
    case_id: str,
    version: int,
    state: str,
    stream: Sequence[sa.Row[Any]] | None = None,
    deadline_keys: bool = True,
) -> CaseContext:
    """What the case rules need of the history; `stream` is the case's `read_streams` rows, when read.

    Only `deadline_resolved` (or a correction of one) names deadlines: others need not read their keys.
    """
    ctx = CaseContext(version=version, state=state)
    if stream is None:
        for event_id, type_ in session.execute(
            sa.select(EventRow.id, EventRow.type).where(EventRow.case_id == case_id)
        ):
            ctx.types[event_id] = type_
        if "event_retracted" in ctx.types.values():
            for data, version in session.execute(
                sa.select(EventRow.data, EventRow.schema_version).where(
                    EventRow.case_id == case_id, EventRow.type == "event_retracted"
                )
            ):
                ctx.retracted.add(upcast_payload("event_retracted", version, json.loads(data))["event_id"])
    else:
        # The raw history: the rules then follow the status fold over what is effective.
        ctx.story = [recorded(*row[:10]) for row in stream]
        for event in ctx.story:
            ctx.types[event.id] = event.type
            if event.type == "event_retracted":
                ctx.retracted.add(event.data["event_id"])
    if deadline_keys:
        query = sa.select(DeadlineRow.key).where(DeadlineRow.case_id == case_id)
        ctx.deadline_keys = set(session.scalars(query))
    return ctx


def append_checked(
    rt: Runtime,
    session: Session,
    actor: Actor,
    case_id: str,
    events: Sequence[EventInput],
    ctx: CaseContext,
    key: bytes | None,
    *,
    source: str,
    request_id: str | None = None,
    previous_hash: str | None = None,
    prior: Sequence[sa.Row[Any]] | None = None,
    ids: Sequence[str] | None = None,
) -> list[EventRow]:
    """Check each event against the case so far, seal it, append the batch and project it.

    `previous_hash` and `prior` (the newest hash and the stream so far) save reading them again;
    `ids` are the events' ids when the caller needs them beforehand (an attachment's stored file).
    """
    today = rt.today()
    expected = ctx.version
    wanted = {e.data["username"] for e in events if e.type in ASSIGNING}
    wanted |= {e.data["owner"] for e in events if e.type in OWNED}
    # A correction may name a user too (of a corrected assignment); only strings can be usernames.
    wanted |= {
        name
        for e in events
        if e.type == "event_corrected"
        for name in (e.data["data"].get("username"), e.data["data"].get("owner"))
        if isinstance(name, str)
    }
    users = existing_usernames(session, wanted)
    meta = metadata_text(source, request_id, None)
    batch = sealed_batch(case_id, events, ctx, key, today, users.__contains__, meta, ids)
    timeout = float(rt.settings.get("APPEND_LOCK_TIMEOUT_SECONDS") or DEFAULT_LOCK_TIMEOUT)
    rows = append(session, case_id, expected, batch, actor.username, rt.now(), previous_hash, timeout)
    rt.seal_appended(session, rows, [case_id] if expected == 0 else [])
    project(session, case_id, rows, rt.rules, today, prior)
    index_appended(session, rt.search_key, case_id, rows, key)
    count_appends_on_commit(session, source, len(rows))
    return rows


def sealed_batch(
    case_id: str,
    events: Sequence[EventInput],
    ctx: CaseContext,
    key: bytes | None,
    today: date,
    user_exists: Callable[[str], bool],
    metadata: str,
    ids: Sequence[str] | None = None,
) -> list[NewEvent]:
    """The events checked one after the other against the case (`ctx` follows them) and sealed."""
    batch: list[NewEvent] = []
    for i, event in enumerate(events):
        event_id = ids[i] if ids else str(uuid.uuid4())
        event = check(event, ctx, today, user_exists)
        target_type = (
            ctx.types.get(event.data.get("event_id", "")) if event.type == "event_corrected" else None
        )
        batch.append(
            NewEvent(
                id=event_id,
                type=event.type,
                schema_version=CATALOGUE[event.type].schema_version,
                occurred_on=event.occurred_on,
                date_precision=event.date_precision,
                data=seal(event, event_id, case_id, key, target_type),
                metadata=metadata,
            )
        )
        ctx.remember(event_id, event)
    return batch


def open_case(
    rt: Runtime, actor: Actor, opened: EventInput, *, source: str = "api", request_id: str | None = None
) -> tuple[str, int]:
    """Start a case; a caseworker who opens it follows it."""
    if not actor.may_record:
        raise Forbidden("auditors cannot open cases")
    case_id = str(uuid.uuid4())
    events = [opened]
    if actor.role == "caseworker":
        events.append(
            EventInput("caseworker_assigned", opened.occurred_on, "day", {"username": actor.username})
        )
    with rt.db.write() as session:
        key = rt.new_case_key(session, case_id)
        append_checked(
            rt,
            session,
            actor,
            case_id,
            events,
            CaseContext(0, "open"),
            key,
            source=source,
            request_id=request_id,
        )
    return case_id, len(events)


def record_event(
    rt: Runtime,
    actor: Actor,
    case_id: str,
    event: EventInput,
    expected_version: int | None = None,
    *,
    source: str = "api",
    request_id: str | None = None,
) -> tuple[str, int]:
    """Append one event to a case the actor may write; returns its id and version.

    The case is read and the event checked before the append lock is taken (the store takes it); when
    another write moved the case meanwhile, the event is checked again on the new history (when the
    caller gave no expected version) or refused as a ConcurrencyError."""
    for attempt in range(TRIES):
        try:
            return _record_once(rt, actor, case_id, event, expected_version, source, request_id)
        except ConcurrencyError:
            if expected_version is not None or attempt == TRIES - 1:
                raise
    raise AssertionError("unreachable")


def _record_once(
    rt: Runtime,
    actor: Actor,
    case_id: str,
    event: EventInput,
    expected_version: int | None,
    source: str,
    request_id: str | None,
) -> tuple[str, int]:
    with rt.db.write() as session:
        # Held here, the row stays in the session for the projection (it keeps only referenced rows).
        row = session.get(CaseRow, case_id)
        if row is None or not may_see(session, actor, case_id):
            raise NotFound(case_id)
        if not actor.may_record:
            raise Forbidden("auditors have read-only access")
        if event.type in ASSIGNING and actor.role == "caseworker":
            raise Forbidden("only supervisors and admins assign caseworkers")
        stream = read_streams(session, [case_id])
        version = stream[-1].version if stream else 0
        if expected_version is not None and expected_version != version:
            raise ConcurrencyError(case_id, expected_version, version)
        names_deadline = event.type in ("deadline_resolved", "event_corrected", "follow_up_set")
        ctx = case_context(session, case_id, version, row.state if row else "open", stream, names_deadline)
        # Correcting or retracting an assignment changes who follows the case just as assigning does.
        target = ctx.types.get(event.data.get("event_id", "")) if event.type in CORRECTION_TYPES else None
        if target in ASSIGNING and actor.role == "caseworker":
            raise Forbidden("only supervisors and admins assign caseworkers")
        _check_owner(session, case_id, event, target)
        # The case key is opened only for an event that has something to seal.
        key = rt.case_key(session, case_id) if sensitive_fields(event, target) else None
        (stored,) = append_checked(
            rt,
            session,
            actor,
            case_id,
            [event],
            ctx,
            key,
            source=source,
            request_id=request_id,
            previous_hash=stream[-1].hash if stream else GENESIS,
            prior=stream,
        )
        return stored.id, stored.version
