"""The blind index of a case: keyed digests of the tokens of its indexed fields, kept in step with appends.

Indexed are every sensitive text field the catalogue declares (whatever its event type) and the
pseudonym. Each event's tokens are stored under its id: a correction replaces the tokens of its
target with those of the new payload, a retraction drops them, an erasure drops every sensitive one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.crypto.codec import is_encrypted, open_fields
from tracker.db import bulk_insert
from tracker.events.catalogue import CATALOGUE, upcast, upcast_correction
from tracker.projections.tables import SearchTokenRow
from tracker.search.normalize import digest, value_tokens
from tracker.store.tables import EventRow

#: Fields that are not sensitive but find a case: seen by everybody who sees the case.
PUBLIC_FIELDS = frozenset({("case_opened", "pseudonym")})
_TEXT_KINDS = frozenset({"str", "text"})


def indexed_fields(type_name: str) -> dict[str, bool]:
    """The indexed fields of an event type, each with whether it is sensitive."""
    event_type = CATALOGUE.get(type_name)
    if event_type is None:
        return {}
    return {
        f.name: f.sensitive
        for f in event_type.fields
        if f.kind in _TEXT_KINDS and (f.sensitive or (type_name, f.name) in PUBLIC_FIELDS)
    }


def event_tokens(
    key: bytes, case_id: str, event_id: str, type_name: str, data: dict[str, Any]
) -> list[dict[str, Any]]:
    """The index rows of one event's opened payload (a value still sealed is skipped)."""
    rows = []
    for name, sensitive in indexed_fields(type_name).items():
        value = data.get(name)
        if not isinstance(value, str) or is_encrypted(value):
            continue
        field = f"{type_name}.{name}"
        for token in sorted(value_tokens(value)):
            rows.append(
                {
                    "digest": digest(key, token),
                    "case_id": case_id,
                    "event_id": event_id,
                    "field": field,
                    "sensitive": sensitive,
                }
            )
    return rows


def _opened(data: dict[str, Any], case_key: bytes | None, case_id: str, event_id: str) -> dict[str, Any]:
    if case_key is None:
        return data
    return open_fields(data, case_key, case_id, event_id)


class CaseIndex:
    """The effective indexed payloads of one case, event by event in version order."""

    def __init__(self, case_id: str, case_key: bytes | None) -> None:
        self.case_id, self.case_key = case_id, case_key
        self.payloads: dict[str, tuple[str, dict[str, Any]]] = {}
        self.types: dict[str, str] = {}
        self.erased = False

    def add(self, event_id: str, type_name: str, schema_version: int, data_text: str) -> None:
        self.types[event_id] = type_name
        data = upcast(type_name, schema_version, json.loads(data_text))
        if type_name == "event_corrected":
            target = str(data.get("event_id"))
            target_type = self.types.get(target)
            if target_type is not None and isinstance(data.get("data"), dict):
                # The new payload at its target type's current version, like every other read.
                opened = _opened(upcast_correction(data, target_type), self.case_key, self.case_id, event_id)[
                    "data"
                ]
                self.payloads[target] = (target_type, opened)
        elif type_name == "event_retracted":
            self.payloads.pop(data.get("event_id", ""), None)
        elif type_name == "personal_data_erased":
            self.erased = True
        elif indexed_fields(type_name):
            self.payloads[event_id] = (type_name, _opened(data, self.case_key, self.case_id, event_id))

    def rows(self, key: bytes) -> list[dict[str, Any]]:
        rows = []
        for event_id, (type_name, data) in self.payloads.items():
            rows += event_tokens(key, self.case_id, event_id, type_name, data)
        return [r for r in rows if not (self.erased and r["sensitive"])]


def index_appended(
    session: Session, key: bytes, case_id: str, new_rows: Sequence[EventRow], case_key: bytes | None
) -> None:
    """Bring a case's index up to date after `new_rows` were appended (in the append's transaction)."""
    table = SearchTokenRow.__table__
    for row in new_rows:
        index = CaseIndex(case_id, case_key)
        if row.type in ("event_corrected", "event_retracted"):
            target = json.loads(row.data).get("event_id")
            session.execute(sa.delete(table).where(table.c.case_id == case_id, table.c.event_id == target))
            if row.type == "event_retracted":
                continue
            target_type = session.scalar(sa.select(EventRow.type).where(EventRow.id == target))
            if target_type is None:
                continue
            index.types[target] = target_type
        elif row.type == "personal_data_erased":
            session.execute(sa.delete(table).where(table.c.case_id == case_id, table.c.sensitive.is_(True)))
            continue
        index.add(row.id, row.type, row.schema_version, row.data)
        bulk_insert(session, table, index.rows(key))


def index_new_cases(session: Session, key: bytes, cases: Iterable[tuple[CaseIndex, Iterable[Any]]]) -> None:
    """The index rows of whole cases, in bulk: each given with its events (id, type, schema_version,
    data text) in version order."""
    rows: list[dict[str, Any]] = []
    for index, events in cases:
        for event_id, type_name, schema_version, data_text in events:
            index.add(event_id, type_name, schema_version, data_text)
        rows += index.rows(key)
    bulk_insert(session, SearchTokenRow.__table__, rows)


def drop_cases(session: Session, case_ids: Sequence[str]) -> None:
    session.execute(sa.delete(SearchTokenRow).where(SearchTokenRow.case_id.in_(case_ids)))
