"""Stored rows as projections see them: upcast, sensitive fields left out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from tracker.crypto.codec import strip_fields
from tracker.events.catalogue import upcast, upcast_payload
from tracker.events.record import Recorded
from tracker.store.tables import EventRow


def stored_data(row: EventRow, types: Mapping[str, str]) -> dict[str, Any]:
    """The stored payload at the catalogue's current schema version (sensitive fields still sealed).

    `types` gives the type of the events of the case by id: a correction's new payload is upcast by
    its target's type."""
    data = json.loads(row.data)
    target = types.get(str(data.get("event_id"))) if row.type == "event_corrected" else None
    return upcast_payload(row.type, row.schema_version, data, target)


def to_recorded(row: EventRow) -> Recorded:
    return recorded(
        row.id,
        row.case_id,
        row.version,
        row.type,
        row.schema_version,
        row.occurred_on,
        row.date_precision,
        row.recorded_at,
        row.recorded_by,
        row.data,
    )


def recorded(
    id: str,
    case_id: str,
    version: int,
    type: str,
    schema_version: int,
    occurred_on: date,
    date_precision: str,
    recorded_at: datetime,
    recorded_by: str,
    data: str,
) -> Recorded:
    """A stored event (its columns, `data` the stored JSON text) as projections see it."""
    return Recorded(
        id=id,
        case_id=case_id,
        version=version,
        type=type,
        occurred_on=occurred_on,
        date_precision=date_precision,
        recorded_at=recorded_at if recorded_at.tzinfo else recorded_at.replace(tzinfo=UTC),
        recorded_by=recorded_by,
        data=strip_fields(upcast(type, schema_version, json.loads(data))),
    )


def recorded_of(values: Mapping[str, Any]) -> Recorded:
    """`recorded` of the column values of `tracker.store.events.chain`."""
    return recorded(
        values["id"],
        values["case_id"],
        values["version"],
        values["type"],
        values["schema_version"],
        values["occurred_on"],
        values["date_precision"],
        values["recorded_at"],
        values["recorded_by"],
        values["data"],
    )
