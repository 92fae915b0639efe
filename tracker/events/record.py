"""The shape in which stored events reach projections and deadline rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from tracker.events.catalogue import upcast_correction

#: Types that act on another event instead of stating a fact of their own.
CORRECTION_TYPES = frozenset({"event_corrected", "event_retracted"})


@dataclass(frozen=True, slots=True)
class Recorded:
    """One stored event as projections see it: `data` holds the non-sensitive fields only."""

    id: str
    case_id: str
    version: int
    type: str
    occurred_on: date
    date_precision: str
    recorded_at: datetime
    recorded_by: str
    data: Mapping[str, Any]

    @property
    def sort_key(self) -> tuple[date, int]:
        return (self.occurred_on, self.version)


def effective(events: Iterable[Recorded], as_of: date | None = None) -> list[Recorded]:
    """The events that count, in the order of the story (occurred_on, then version).

    An `event_corrected` replaces its target's data (and occurred_on, when it gives one); an
    `event_retracted` removes its target; the latest correction of a target wins. Corrections act
    on the record whatever their own date, so "as of D" shows what is now known to have been true
    on D. With `as_of`, only events that occurred on or before it count.
    """
    ordered: Sequence[Recorded] = sorted(events, key=lambda e: e.version)
    corrections: dict[str, Recorded] = {}
    retracted: set[str] = set()
    for event in ordered:
        target = event.data.get("event_id")
        if event.type == "event_corrected" and isinstance(target, str):
            corrections[target] = event
        elif event.type == "event_retracted" and isinstance(target, str):
            retracted.add(target)
    out: list[Recorded] = []
    for event in ordered:
        if event.type in CORRECTION_TYPES or event.id in retracted:
            continue
        fix = corrections.get(event.id)
        if fix is not None:
            new_on = fix.data.get("occurred_on")
            # The new payload was written at its own schema version: lifted by the target's type.
            event = replace(
                event,
                data=dict(upcast_correction(fix.data, event.type).get("data") or {}),
                occurred_on=date.fromisoformat(new_on) if isinstance(new_on, str) else event.occurred_on,
            )
        if as_of is None or event.occurred_on <= as_of:
            out.append(event)
    out.sort(key=lambda e: e.sort_key)
    return out
