"""Import and export in the JSON Lines format of the contract."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from sqlalchemy.orm import Session

from tracker.auth.users import Actor, existing_usernames
from tracker.crypto.codec import ERASED, open_fields
from tracker.db import refresh_statistics
from tracker.deadlines.derive import derive
from tracker.domain.commands import CaseContext, EventInput, parse_case, parse_event
from tracker.events.catalogue import ValidationError
from tracker.events.record import Recorded
from tracker.ops.metrics import count_appends_on_commit
from tracker.projections.case_status import project_new_cases
from tracker.projections.recorded import recorded_of, stored_data
from tracker.projections.search import CaseIndex, index_new_cases
from tracker.services import audit
from tracker.services.reading import log_access
from tracker.services.runtime import NotFound, Runtime
from tracker.services.writing import metadata_text, sealed_batch
from tracker.store.events import (
    case_ids,
    chain,
    insert_new_cases,
    lock_for_append,
    read_stream,
    save_case_keys,
)
from tracker.store.hashing import GENESIS
from tracker.store.tables import EventRow

REF = re.compile(r"^#([1-9][0-9]{0,6})$")
REF_FIELDS = ("criminal_case", "event_id", "related_person", "follow_up")
KEY_REF = re.compile(r"^([a-z_]+):#([1-9][0-9]{0,6}):([0-9]{4}-[0-9]{2}-[0-9]{2})$")
IMPORTER = Actor("import", "admin")


class ImportFailed(Exception):
    """A line of an import file is wrong; nothing of the file was stored."""


def _resolve_refs(data: Any, ids: list[str], index: int, where: str, nested: bool = False) -> Any:
    if not isinstance(data, dict):
        return data
    out = dict(data)
    if not nested and isinstance(out.get("data"), dict):
        # A correction's new payload names events of the line the same way.
        out["data"] = _resolve_refs(out["data"], ids, index, f"{where}.data", nested=True)
    for name in REF_FIELDS:
        value = out.get(name)
        if isinstance(value, str) and value.startswith("#"):
            match = REF.match(value)
            n = int(match.group(1)) if match else 0
            if not match or n > len(ids) or n >= index:
                raise ValidationError(
                    {f"{where}.data.{name}": f"{value} does not name an earlier event of this line"}
                )
            out[name] = ids[n - 1]
    key = out.get("deadline_key")
    if isinstance(key, str) and (parts := KEY_REF.match(key)):
        # A deadline is named by its kind, its source event and its date: "stay_expires:#5:2024-01-31".
        n = int(parts.group(2))
        if n > len(ids) or n >= index:
            raise ValidationError(
                {f"{where}.data.deadline_key": f"#{n} does not name an earlier event of this line"}
            )
        out["deadline_key"] = f"{parts.group(1)}:{ids[n - 1]}:{parts.group(3)}"
    return out


def parse_line(text: str, today: Any) -> tuple[list[EventInput], list[str]]:
    """The events of one import line (case_opened first) and the ids they will get."""
    try:
        line = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError({"line": f"not valid JSON ({exc.msg})"}) from None
    except ValueError:  # Python reads no integer of more than 4,300 digits
        raise ValidationError({"line": "not valid JSON (a number too long to read)"}) from None
    except RecursionError:
        raise ValidationError({"line": "not valid JSON (nested too deeply)"}) from None
    if not isinstance(line, dict) or not isinstance(line.get("case"), dict):
        raise ValidationError({"case": 'each line is {"case": {...}, "events": [...]}'})
    raw_events = line.get("events", [])
    if not isinstance(raw_events, list):
        raise ValidationError({"events": "must be a list"})
    unknown = set(line) - {"case", "events"}
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "unknown field"})
    ids = [str(uuid.uuid4()) for _ in range(len(raw_events) + 1)]
    try:
        events = [parse_case(line["case"], today)]
    except ValidationError as exc:
        raise ValidationError({f"case.{k}": v for k, v in exc.fields.items()}) from None
    for i, raw in enumerate(raw_events):
        where = f"events[{i}]"
        if isinstance(raw, dict) and raw.get("type") == "attachment_added":
            # The file itself is not in the line: its hash would name bytes the store does not hold.
            raise ValidationError({f"{where}.type": "attachment_added is written by uploading the file"})
        if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
            raw = {**raw, "data": _resolve_refs(raw["data"], ids, i + 2, where)}
        try:
            events.append(parse_event(raw, today, allow_internal=True))
        except ValidationError as exc:
            raise ValidationError({f"{where}.{k}": v for k, v in exc.fields.items()}) from None
    return events, ids


def _lines(fh: TextIO) -> Iterator[tuple[int, str]]:
    for number, text in enumerate(fh, start=1):
        if text.strip():
            yield number, text


#: Cases stored per round of bulk inserts during an import (all in the import's one transaction).
IMPORT_CHUNK = 500


class _Pending:
    """Checked, sealed and chained cases of an import, waiting for their bulk insert."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, bytes, str, str | None]] = []
        self.open_keys: list[bytes] = []
        self.rows: list[dict[str, Any]] = []
        self.ends: list[int] = []

    def add(
        self,
        case_id: str,
        wrapped: bytes | None,
        kek_id: str,
        keyring: str,
        rows: list[dict[str, Any]],
        key: bytes,
    ) -> None:
        if wrapped is not None:
            self.keys.append((case_id, wrapped, kek_id, keyring))
        self.rows.extend(rows)
        self.ends.append(len(self.rows))
        self.open_keys.append(key)

    def store(self, rt: Runtime, session: Session) -> None:
        positions = insert_new_cases(session, self.rows)
        cases = list(dict.fromkeys(r["case_id"] for r in self.rows))
        rt.seal_appended(session, self.rows, cases, bulk=True)
        save_case_keys(session, self.keys)
        streams, start = [], 0
        for end in self.ends:
            streams.append(([recorded_of(r) for r in self.rows[start:end]], positions[end - 1]))
            start = end
        project_new_cases(session, streams, rt.rules)
        # An erased case's key is used here only, in memory: its index keeps no sensitive token.
        cases, start = [], 0
        for end, key in zip(self.ends, self.open_keys, strict=True):
            case_rows = self.rows[start:end]
            index = CaseIndex(case_rows[0]["case_id"], key)
            cases.append((index, [(r["id"], r["type"], r["schema_version"], r["data"]) for r in case_rows]))
            start = end
        index_new_cases(session, rt.search_key, cases)
        self.keys, self.rows, self.ends, self.open_keys = [], [], [], []


def import_file(rt: Runtime, fh: TextIO, progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Import every line of a file in one transaction; returns (cases, events)."""
    cases = events = 0
    today = rt.today()
    metadata = metadata_text("import", None, None)
    pending = _Pending()
    with rt.db.write() as session:
        lock_for_append(session)
        users = _UserCache(session)
        for number, text in _lines(fh):
            try:
                batch, ids = parse_line(text, today)
                case_id = str(uuid.uuid4())
                key, wrapped = rt.make_case_key(case_id)
                ctx = CaseContext(0, "open", deadline_keys=_deadline_keys(rt, case_id, batch, ids))
                # An erased case comes back erased: what follows its erasure is sealed under no key,
                # and the key of what came before is never stored.
                erased = next((i + 1 for i, e in enumerate(batch) if e.type == "personal_data_erased"), None)
                cut = len(batch) if erased is None else erased
                try:
                    sealed = sealed_batch(case_id, batch[:cut], ctx, key, today, users.exists, metadata, ids)
                    sealed += sealed_batch(
                        case_id, batch[cut:], ctx, None, today, users.exists, metadata, ids[cut:]
                    )
                except ValidationError as exc:
                    where = "case" if ctx.version == 0 else f"events[{ctx.version - 1}]"
                    raise ValidationError({f"{where}.{k}": v for k, v in exc.fields.items()}) from None
            except ValidationError as exc:
                field, message = next(iter(exc.fields.items()))
                where = "" if field == "line" else f"{field}: "
                raise ImportFailed(f"line {number}: {where}{message}") from None
            rows = chain(case_id, 0, GENESIS, sealed, IMPORTER.username, rt.now())
            pending.add(case_id, None if erased else wrapped, rt.kek_id, rt.keyring_id, rows, key)
            cases += 1
            events += len(batch)
            if len(pending.ends) >= IMPORT_CHUNK:
                pending.store(rt, session)
            if progress:
                progress(len(text.encode()))
        pending.store(rt, session)
        count_appends_on_commit(session, "import", events)
        refresh_statistics(session)
    return cases, events


def _deadline_keys(rt: Runtime, case_id: str, batch: list[EventInput], ids: list[str]) -> set[str]:
    """The keys of the deadlines a line's events make, for the line's deadline_resolved to name."""
    if not any(e.type == "deadline_resolved" for e in batch):
        return set()
    now = rt.now()
    story = [
        Recorded(
            ids[i], case_id, i + 1, e.type, e.occurred_on, e.date_precision, now, IMPORTER.username, e.data
        )
        for i, e in enumerate(batch)
    ]
    return {d.key for d in derive(story, rt.rules)}


class _UserCache:
    """Which usernames exist, asked of the database once per name."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[str, bool] = {}

    def exists(self, name: str) -> bool:
        if name not in self.known:
            self.known[name] = bool(existing_usernames(self.session, {name}))
        return self.known[name]


def export_cases(
    rt: Runtime,
    actor: Actor,
    ids: Iterable[str] | None,
    out: TextIO,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write cases as import lines; sensitive fields opened (erased ones left out)."""
    with rt.db.write() as session:
        wanted = list(ids) if ids else case_ids(session)
        count = 0
        for case_id in wanted:
            rows = read_stream(session, case_id)
            if not rows:
                raise NotFound(case_id)
            log_access(session, rt, actor, case_id, "export", "cli")
            key = rt.case_key(session, case_id)
            out.write(json.dumps(_export_line(rows, key), ensure_ascii=False) + "\n")
            count += 1
            if progress:
                progress(1)
        target = wanted[0] if len(wanted) == 1 else None
        audit.record(session, actor.username, "export", target, {"cases": count, "all": ids is None})
    return count


def _export_line(rows: list[EventRow], key: bytes | None) -> dict[str, Any]:
    numbers = {row.id: f"#{n}" for n, row in enumerate(rows, start=1)}
    types = {row.id: row.type for row in rows}

    def payload(row: EventRow) -> dict[str, Any]:
        # At the current schema versions (a correction's new payload too): the import checks them so.
        data = open_fields(stored_data(row, types), key, row.case_id, row.id)
        data = {k: v for k, v in data.items() if v != ERASED}
        if isinstance(data.get("data"), dict):
            data["data"] = {k: v for k, v in data["data"].items() if v != ERASED}
        for part in (data, data.get("data")):
            for name in REF_FIELDS:
                if isinstance(part, dict) and part.get(name) in numbers:
                    part[name] = numbers[part[name]]
        if row.type == "deadline_resolved" and isinstance(data.get("deadline_key"), str):
            kind, _, rest = data["deadline_key"].partition(":")
            source, _, due_on = rest.partition(":")
            if source in numbers:
                data["deadline_key"] = f"{kind}:{numbers[source]}:{due_on}"
        return data

    first, rest = rows[0], rows[1:]
    case = {
        **payload(first),
        "occurred_on": first.occurred_on.isoformat(),
        "date_precision": first.date_precision,
    }
    events = [
        {
            "type": r.type,
            "occurred_on": r.occurred_on.isoformat(),
            "date_precision": r.date_precision,
            "data": payload(r),
        }
        for r in rest
    ]
    return {"case": case, "events": events}
