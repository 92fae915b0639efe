"""The last 12 months of presence as a server-rendered SVG strip: present, absent, covered by a permit."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import groupby

from flask_babel import gettext as _
from markupsafe import Markup, escape

from tracker.stay.strip import Strip

DAY = 2  # pixels per day
LEFT, TOP, HEIGHT = 4, 16, 22
LABEL_WIDTH = 52  # room a "YYYY-MM" tick label needs at the strip's font size


def _runs(strip: Strip) -> list[tuple[int, int, str]]:
    out, start = [], 0
    for state, group in groupby(strip.days):
        length = len(list(group))
        out.append((start, length, state))
        start += length
    return out


def render(strip: Strip | None) -> Markup:
    """The strip as an inline SVG; empty when there is nothing to draw."""
    if strip is None:
        return Markup("")
    names = {"present": _("present"), "absent": _("absent"), "permit": _("covered by a permit")}
    width = LEFT * 2 + DAY * len(strip.days)
    title = _(
        "Presence from %(first)s to %(last)s", first=strip.first.isoformat(), last=strip.last.isoformat()
    )
    parts = [
        f'<svg class="stay-strip" viewBox="0 0 {width} {TOP + HEIGHT + 18}" role="img" '
        f'aria-labelledby="stay-strip-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="stay-strip-title">{escape(title)}</title>',
    ]
    for start, length, state in _runs(strip):
        first = strip.first + timedelta(days=start)
        last = first + timedelta(days=length - 1)
        parts.append(
            f'<rect class="day-{state}" x="{LEFT + start * DAY}" y="{TOP}" width="{length * DAY}" '
            f'height="{HEIGHT}"><title>{escape(names[state])}: {first.isoformat()} – {last.isoformat()}'
            "</title></rect>"
        )
    day = date(strip.first.year, strip.first.month, 1)
    while day <= strip.last:
        if day >= strip.first:
            x = LEFT + (day - strip.first).days * DAY
            parts.append(f'<line class="tick" x1="{x}" x2="{x}" y1="{TOP}" y2="{TOP + HEIGHT + 4}"/>')
            if x + LABEL_WIDTH <= width:  # a month that starts too near the end keeps its tick only
                parts.append(
                    f'<text class="tick-label" x="{x + 2}" y="{TOP + HEIGHT + 15}">{day:%Y-%m}</text>'
                )
        day = (day + timedelta(days=32)).replace(day=1)
    if strip.window_start is not None:
        x = LEFT + (strip.window_start - strip.first).days * DAY
        label = escape(_("window starts %(day)s", day=strip.window_start.isoformat()))
        parts.append(f'<line class="window-edge" x1="{x}" x2="{x}" y1="2" y2="{TOP + HEIGHT}"/>')
        anchor = "end" if x > width / 2 else "start"
        parts.append(
            f'<text class="window-label" x="{x + (-3 if anchor == "end" else 3)}" y="11" '
            f'text-anchor="{anchor}">{label}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
