"""Stored rows as projections see them: upcast, sensitive fields left out."""

from __future__ import annotations

import json
from datetime import UTC

from tracker.crypto.codec import strip_fields
from tracker.events.catalogue import upcast
from tracker.events.record import Recorded
from tracker.store.tables import EventRow


def stored_data(row: EventRow) -> dict:
    """The stored payload at the catalogue's current schema version (sensitive fields still sealed)."""
    return upcast(row.type, row.schema_version, json.loads(row.data))


def to_recorded(row: EventRow) -> Recorded:
    recorded_at = row.recorded_at if row.recorded_at.tzinfo else row.recorded_at.replace(tzinfo=UTC)
    return Recorded(
        id=row.id,
        case_id=row.case_id,
        version=row.version,
        type=row.type,
        occurred_on=row.occurred_on,
        date_precision=row.date_precision,
        recorded_at=recorded_at,
        recorded_by=row.recorded_by,
        data=strip_fields(stored_data(row)),
    )
