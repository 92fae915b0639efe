"""The tamper-evident chain: SHA-256 over a canonical form of the stored event and the previous hash."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds: the one textual form of recorded_at."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
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
    metadata: str,
    previous: str,
) -> str:
    """The hash of one event; `data` and `metadata` are the stored (canonical, encrypted) JSON texts."""
    body = canonical_json(
        {
            "id": id,
            "case_id": case_id,
            "version": version,
            "type": type,
            "schema_version": schema_version,
            "occurred_on": occurred_on.isoformat(),
            "date_precision": date_precision,
            "recorded_at": format_time(recorded_at),
            "recorded_by": recorded_by,
            "data": data,
            "metadata": metadata,
        }
    )
    return hashlib.sha256((previous + body).encode()).hexdigest()
