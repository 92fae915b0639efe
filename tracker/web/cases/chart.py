"""The case chronology as server-rendered SVG: periods as bars, events as marks, deadlines, today."""

from __future__ import annotations

from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import pgettext
from markupsafe import Markup, escape

from tracker.events.catalogue import CATALOGUE
from tracker.services.chronology import Chronology
from tracker.web import i18n, labels

WIDTH = 960
LEFT = 118
RIGHT = 12
TOP = 26
LANE = 30
LANES = ("location", "stay", "detention", "events", "deadlines")


def _lane_names() -> dict[str, str]:
    return {
        "location": _("Where"),
        # Its own entry: the lane's name must fit the LEFT gutter (the status card says it in full).
        "stay": pgettext("chronology lane", "Legal stay"),
        "detention": _("Detention"),
        "events": _("Events"),
        "deadlines": _("Deadlines"),
    }


class _Scale:
    def __init__(self, start: date, end: date) -> None:
        self.start = start
        self.days = max(1, (end - start).days)
        self.span = WIDTH - LEFT - RIGHT

    def x(self, day: date) -> float:
        offset = min(max((day - self.start).days, 0), self.days)
        return round(LEFT + self.span * offset / self.days, 1)


def _ticks(start: date, end: date) -> list[tuple[date, str]]:
    months = (end.year - start.year) * 12 + end.month - start.month
    step = 1 if months <= 8 else 3 if months <= 30 else 12
    day = date(start.year, start.month, 1)
    out = []
    while day <= end:
        if day >= start and (day.month - 1) % step == 0:
            out.append((day, str(day.year) if step == 12 or day.month == 1 else day.strftime("%Y-%m")))
        if day.year == date.max.year and day.month == 12:
            break
        day = (day + timedelta(days=32)).replace(day=1)
    return out


def _y(lane: str) -> int:
    return TOP + LANES.index(lane) * LANE


def render(pic: Chronology, as_of: bool) -> Markup:
    """The SVG markup of a case's chronology (every text escaped)."""
    scale = _Scale(pic.start, pic.end)
    height = TOP + LANE * len(LANES) + 22
    names = _lane_names()
    title = _("Chronology of the case")
    parts: list[str] = [
        f'<svg class="chronology" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="chrono-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chrono-title">{escape(title)}</title>',
    ]
    for lane in LANES:
        y = _y(lane)
        parts.append(f'<text class="lane-name" x="4" y="{y + 18}">{escape(names[lane])}</text>')
        parts.append(
            f'<line class="lane-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y + LANE}" y2="{y + LANE}"/>'
        )
    for day, text in _ticks(pic.start, pic.end):
        x = scale.x(day)
        parts.append(f'<line class="tick" x1="{x}" x2="{x}" y1="{TOP - 4}" y2="{height - 20}"/>')
        parts.append(f'<text class="tick-label" x="{x + 2}" y="{TOP - 8}">{escape(text)}</text>')
    for bar in pic.bars:
        x1 = scale.x(bar.start)
        x2 = scale.x(bar.end if bar.end is not None else pic.today)
        y = _y(bar.lane) + 5
        label = i18n.country_name(bar.country)
        if bar.detail:
            label += ", " + (bar.detail if bar.lane == "location" else labels.choice_label(bar.detail))
        until = bar.end.isoformat() if bar.end is not None else "…"
        hover = f"{names[bar.lane]}: {label}, {bar.start.isoformat()} – {until}"
        css = f"bar bar-{bar.lane}" + (" open" if bar.end is None else "")
        parts.append(
            f'<g class="{css}"><title>{escape(hover)}</title>'
            f'<rect x="{x1}" y="{y}" width="{max(2.0, round(x2 - x1, 1))}" height="{LANE - 10}" rx="3"/>'
        )
        if x2 - x1 > 8 * len(label) + 8:
            parts.append(f'<text class="bar-label" x="{x1 + 4}" y="{y + 14}">{escape(label)}</text>')
        parts.append("</g>")
    y = _y("events") + LANE // 2
    for mark in pic.events:
        x = scale.x(mark.on)
        group = CATALOGUE[mark.kind].group if mark.kind in CATALOGUE else "other"
        hover = f"{mark.on.isoformat()}: {labels.type_label(mark.kind)}"
        parts.append(
            f'<a href="#event-{escape(mark.id)}" class="event-mark ev-{group}"><title>{escape(hover)}</title>'
            f'<rect x="{x - 2}" y="{y - 9}" width="4" height="18" rx="1"/></a>'
        )
    y = _y("deadlines") + LANE // 2
    for mark in pic.deadlines:
        x = scale.x(mark.on)
        hover = f"{mark.on.isoformat()}: {i18n.deadline_title(mark.title)}"
        css = "deadline-mark overdue" if mark.overdue else "deadline-mark"
        parts.append(
            f'<g class="{css}"><title>{escape(hover)}</title>'
            f'<polygon points="{x},{y - 8} {x + 7},{y} {x},{y + 8} {x - 7},{y}"/></g>'
        )
    x = scale.x(pic.today)
    today = _("As of") if as_of else _("Today")
    parts.append(f'<line class="today" x1="{x}" x2="{x}" y1="{TOP - 4}" y2="{height - 16}"/>')
    anchor = "end" if x > WIDTH - 80 else "start"
    parts.append(
        f'<text class="today-label" x="{x + (-3 if anchor == "end" else 3)}" y="{height - 4}" '
        f'text-anchor="{anchor}">{escape(today)} {pic.today.isoformat()}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # every value above went through escape()
