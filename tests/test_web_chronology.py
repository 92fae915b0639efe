"""The chronology picture: bars for places, legal stays and detention, marks for events and deadlines."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from tracker.events.record import Recorded
from tracker.services.chronology import HORIZON_DAYS, chronology
from tracker.web.cases import chart

TODAY = date(2024, 6, 1)
OPENED = date(2023, 1, 10)


def event(version: int, type_: str, on: str, **data: object) -> Recorded:
    return Recorded(
        id=f"e{version}",
        case_id="c",
        version=version,
        type=type_,
        occurred_on=date.fromisoformat(on),
        date_precision="day",
        recorded_at=datetime(2024, 1, 1, tzinfo=UTC),
        recorded_by="anna",
        data=data,
    )


EVENTS = [
    event(1, "case_opened", "2023-01-10", citizenship="RU", category="conscript"),
    event(2, "fled_country", "2023-01-20", to_country="KZ", city="Astana"),
    event(3, "stay_permitted", "2023-02-01", country="KZ", valid_from="2023-02-01", valid_until="2023-08-01"),
    event(4, "detained", "2023-09-05", country="KZ"),
    event(5, "released", "2023-10-15"),
    event(6, "stay_permitted", "2024-01-10", country="KZ", valid_from="2024-01-10"),
]
DEADLINES = [
    {"due_on": "2024-05-20", "kind": "check_in", "key": "d1", "title": "Check-in due"},
    {"due_on": "2024-08-01", "kind": "court_hearing", "key": "d2", "title": "Court hearing"},
    {"due_on": "2030-01-01", "kind": "reminder", "key": "d3", "title": "Far away"},
]


def test_the_periods_marks_and_deadlines_of_a_case():
    pic = chronology(EVENTS, DEADLINES, TODAY, OPENED)
    bars = {(b.lane, b.start.isoformat(), b.end.isoformat() if b.end else None) for b in pic.bars}
    assert bars == {
        ("location", "2023-01-20", None),
        ("stay", "2023-02-01", "2023-08-01"),
        ("detention", "2023-09-05", "2023-10-15"),
        ("stay", "2024-01-10", None),
    }
    assert [m.kind for m in pic.events] == [e.type for e in EVENTS]
    assert [(m.id, m.overdue) for m in pic.deadlines] == [("d1", True), ("d2", False)]
    assert pic.later == 1  # 2030 is beyond the horizon: counted, not drawn
    assert pic.start == date(2023, 1, 3) and pic.end == date(2024, 8, 15)
    assert pic.today == TODAY


def test_the_svg_draws_bars_marks_and_today(sqlite_app):
    pic = chronology(EVENTS, DEADLINES, TODAY, OPENED)
    with sqlite_app.test_request_context("/"):
        svg = str(chart.render(pic, as_of=False))
    assert svg.startswith('<svg class="chronology"') and svg.endswith("</svg>")
    assert len(re.findall(r'<g class="bar bar-location open">', svg)) == 1
    assert len(re.findall(r'<g class="bar bar-stay( open)?">', svg)) == 2
    assert len(re.findall(r'<g class="bar bar-detention">', svg)) == 1
    assert "Detention: Kazakhstan, 2023-09-05 – 2023-10-15" in svg
    assert re.findall(r'<a href="#event-(e\d)" class="event-mark', svg) == [e.id for e in EVENTS]
    assert svg.count('<g class="deadline-mark overdue">') == 1 and svg.count('<g class="deadline-mark">') == 1
    assert "2024-08-01: Court hearing" in svg and "Far away" not in svg
    today = re.search(r'<line class="today" x1="([\d.]+)"', svg)
    assert today and chart.LEFT < float(today.group(1)) < chart.WIDTH - chart.RIGHT
    assert "Today 2024-06-01" in svg
    with sqlite_app.test_request_context("/?lang=ru"):
        from flask import g

        g.lang = "ru"
        russian = str(chart.render(pic, as_of=True))
    assert "На дату 2024-06-01" in russian
    assert ">Пребывание</text>" in russian  # the lane's short name fits the gutter


@pytest.mark.parametrize(
    "today, opened",
    [
        (date.max, date(2023, 1, 10)),
        (date(9999, 12, 20), date(9999, 12, 1)),
        (date(2024, 6, 1), date.min),
        (date(9998, 12, 31), date(2023, 1, 10)),
    ],
)
def test_no_date_overflows_the_picture(sqlite_app, today, opened):
    deadlines = [{"due_on": "9999-12-31", "kind": "reminder", "key": "d", "title": "Last day"}]
    pic = chronology(EVENTS, deadlines, today, opened)
    assert pic.start <= pic.today <= pic.end
    assert (pic.end - pic.today).days <= HORIZON_DAYS + 14
    with sqlite_app.test_request_context("/"):
        assert str(chart.render(pic, as_of=True)).endswith("</svg>")
