"""The picture of a case over time: where the person was, legal stays, detention, events, deadlines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from tracker.events.record import Recorded

LANES = ("location", "stay", "detention")
# The picture looks this far ahead at most; later deadlines are counted, not drawn.
HORIZON_DAYS = 400


@dataclass
class Bar:
    """A period on one lane; `end` None means it still runs (drawn up to the picture's today)."""

    lane: str
    start: date
    end: date | None
    country: str
    detail: str = ""  # the city of a location, the kind of a legal stay


@dataclass(frozen=True)
class Mark:
    """One dated thing on the picture: an event, or a deadline ahead."""

    on: date
    kind: str  # event type, or "deadline:<kind>"
    id: str
    title: str = ""
    overdue: bool = False


@dataclass
class Chronology:
    """What the case page draws; dates only, the web layer turns them into coordinates."""

    start: date
    end: date
    today: date
    bars: list[Bar] = field(default_factory=list)
    events: list[Mark] = field(default_factory=list)
    deadlines: list[Mark] = field(default_factory=list)
    earlier: int = 0  # events before `start`, not drawn
    later: int = 0  # deadlines after `end`, not drawn


def _shift(day: date, days: int) -> date:
    """`day` moved by `days`, held within the calendar (date.min .. date.max) instead of overflowing."""
    if days >= 0:
        return day + timedelta(days=days) if (date.max - day).days >= days else date.max
    return day + timedelta(days=days) if (day - date.min).days >= -days else date.min


def _parse(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


class _Periods:
    def __init__(self) -> None:
        self.bars: list[Bar] = []
        self.open: dict[tuple[str, str], Bar] = {}

    def begin(
        self, lane: str, key: str, start: date, end: date | None, country: str, detail: str = ""
    ) -> Bar:
        self.close(lane, key, start)
        bar = Bar(lane, start, end, country, detail)
        self.bars.append(bar)
        self.open[(lane, key)] = bar
        return bar

    def close(self, lane: str, key: str, on: date) -> None:
        bar = self.open.pop((lane, key), None)
        if bar is not None and (bar.end is None or bar.end > on):
            bar.end = on

    def close_lane(self, lane: str, on: date) -> None:
        for lane_, key in [k for k in self.open if k[0] == lane]:
            self.close(lane_, key, on)


def _periods(events: Sequence[Recorded]) -> list[Bar]:
    p = _Periods()
    for e in events:
        d = e.data
        if e.type in ("fled_country", "relocated"):
            country = str(d.get("to_country") or d.get("country") or "")
            city = str(d.get("city") or "")
            current = p.open.get(("location", "here"))
            if current is None or (current.country, current.detail) != (country, city):
                p.begin("location", "here", e.occurred_on, None, country, city)
        elif e.type == "stay_permitted":
            country = str(d.get("country", ""))
            start = _parse(d.get("valid_from")) or e.occurred_on
            p.begin("stay", country, start, _parse(d.get("valid_until")), country, str(d.get("kind") or ""))
        elif e.type == "stay_extended":
            country = str(d.get("country", ""))
            bar = p.open.get(("stay", country))
            until = _parse(d.get("valid_until"))
            if bar is None:
                p.begin("stay", country, e.occurred_on, until, country)
            else:
                bar.end = until
        elif e.type == "stay_ended":
            p.close("stay", str(d.get("country", "")), e.occurred_on)
        elif e.type == "detained":
            if ("detention", "held") not in p.open:
                p.begin("detention", "held", e.occurred_on, None, str(d.get("country", "")))
        elif e.type == "released":
            p.close_lane("detention", e.occurred_on)
    return [b for b in p.bars if b.end is None or b.end >= b.start]


def chronology(
    events: Sequence[Recorded], deadlines: Sequence[dict[str, Any]], today: date, opened_on: date
) -> Chronology:
    """The periods and marks of a case from its effective events and open deadlines."""
    bars = _periods(events)
    starts = [opened_on, *(b.start for b in bars)]
    start = _shift(min(starts), -7)
    due = [date.fromisoformat(d["due_on"]) for d in deadlines]
    horizon = _shift(today, HORIZON_DAYS)
    end = _shift(max([today, *(d for d in due if d <= horizon)]), 14)
    pic = Chronology(start=start, end=end, today=today, bars=bars)
    for e in events:
        if e.type == "attachment_added":
            continue  # a document is evidence for a fact, not a fact of the story
        if e.occurred_on < start:
            pic.earlier += 1
        elif e.occurred_on <= end:
            pic.events.append(Mark(e.occurred_on, e.type, e.id))
    for d, on in zip(deadlines, due, strict=True):
        if on > end:
            pic.later += 1
        else:
            pic.deadlines.append(Mark(on, d["kind"], d["key"], d["title"], on < today))
    return pic
