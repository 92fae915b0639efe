"""The dossier: a case's facts in the order of the story, with their evidence, for a PDF a lawyer files."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tracker.auth.users import Actor
from tracker.events.record import CORRECTION_TYPES
from tracker.projections import status as fold
from tracker.services.reading import log_access, visible_case
from tracker.services.runtime import Forbidden, Runtime
from tracker.services.timeline import Entry, _deadlines_now, _with_deadlines, entries
from tracker.store.events import read_stream

ATTACHMENT = "attachment_added"


@dataclass
class Fact:
    """One event that counts, with the files attached to support it."""

    entry: Entry
    attachments: list[Entry] = field(default_factory=list)


@dataclass
class Dossier:
    """Everything the dossier shows, read in one transaction."""

    case_id: str
    version: int
    pseudonym: str
    legal_name: str | None
    status: dict[str, Any]
    facts: list[Fact]
    corrections: list[Entry]
    head_hash: str
    generated_at: datetime
    generated_by: str
    today: date
    checkpoint: str | None = None


def dossier(
    rt: Runtime, actor: Actor, case_id: str, *, legal_name: bool = False, via: str = "api"
) -> Dossier:
    """The dossier of a visible case; the legal name only when asked for and the actor may see it."""
    if legal_name and not actor.sees_sensitive:
        raise Forbidden("the legal name is not shown to auditors")
    with rt.db.write() as session:
        case = visible_case(session, actor, case_id)
        log_access(session, rt, actor, case_id, "dossier", via)
        rows = list(read_stream(session, case_id))
        key = rt.case_key(session, case_id) if actor.sees_sensitive else None
        today = rt.today()
        status = fold.render(json.loads(case.fold), today)
        open_, _closed = _deadlines_now(session, case_id, today)
        status = _with_deadlines(status, open_, today)
        status["deadlines"] = open_
        timeline = entries(rows, key, actor.sees_sensitive)
    opened = next((e for e in timeline if e.type == "case_opened"), None)
    name: str | None = None
    if opened is not None:
        data = opened.correction.data if opened.correction and opened.correction.data else opened.data
        name = str(data.get("legal_name") or "") or None
        # Printed once, at the top, and only when asked for: never among the fields of the facts.
        for payload in (opened.data, *(f.data for f in opened.fixes if f.data is not None)):
            payload.pop("legal_name", None)
    facts, corrections = _facts(timeline)
    return Dossier(
        case_id=case_id,
        version=case.version,
        pseudonym=case.pseudonym,
        legal_name=name if legal_name else None,
        status=status,
        facts=facts,
        corrections=corrections,
        head_hash=rows[-1].hash if rows else "",
        generated_at=rt.now(),
        generated_by=actor.username,
        today=today,
        checkpoint=latest_checkpoint(rt, case_id),
    )


def _facts(timeline: list[Entry]) -> tuple[list[Fact], list[Entry]]:
    counting = [e for e in timeline if e.type not in CORRECTION_TYPES and e.state != "retracted"]
    by_id = {e.id: Fact(e) for e in counting if e.type != ATTACHMENT}
    facts = list(by_id.values())
    for e in counting:
        if e.type == ATTACHMENT:
            supported = by_id.get(str(e.data.get("supports_event") or ""))
            if supported is not None:
                supported.attachments.append(e)
            else:
                facts.append(Fact(e))  # a document on its own, or one whose event was retracted
    facts.sort(key=lambda f: (f.entry.effective_on, f.entry.version))
    corrections = [e for e in timeline if e.type in CORRECTION_TYPES]
    return facts, corrections


def latest_checkpoint(rt: Runtime, case_id: str) -> str | None:
    """The latest signed checkpoint that covers the case, as text for the closing page.

    Printed once the tracker signs checkpoints (a `tracker.services.checkpoints` module with
    `latest_checkpoint(rt, case_id)`); until then, None and the closing page shows the head hash only.
    """
    try:
        module = importlib.import_module("tracker.services.checkpoints")
    except ModuleNotFoundError:
        return None
    find = getattr(module, "latest_checkpoint", None)
    if find is None:
        return None
    found = find(rt, case_id)
    return str(found) if found is not None else None
