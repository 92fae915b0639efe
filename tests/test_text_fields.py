"""Single-line and multi-line text: what the catalogue refuses, the same on API, web and import."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
import sqlalchemy as sa
from browser.webkit import post_form, signed_in, text
from conftest import open_case

from tracker.events.catalogue import validate_data
from tracker.events.fields import ValidationError
from tracker.services.transfer import ImportFailed, import_file

#: Characters no single-line field may hold: line breaks, other controls, bidi and invisible formats.
NOT_ONE_LINE = {
    "newline": "Spar\nrow",
    "carriage-return": "Spar\rrow",
    "crlf": "Spar\r\nrow",
    "tab": "Spar\trow",
    "next-line": "Spar\x85row",
    "escape": "Spar\x1b[31mrow",
    "line-separator": "Spar\u2028row",
    "paragraph-separator": "Spar\u2029row",
    "right-to-left-override": "\u202ewornapS",
    "right-to-left-isolate": "Spar\u2067row\u2069",
    "left-to-right-mark": "Spar\u200erow",
    "zero-width-space": "Spar\u200brow",
    "byte-order-mark": "\ufeffSparrow",
    "soft-hyphen": "Spar\xadrow",
    "only-zero-width-joiners": "\u200d\u200c\u200d",
    "joiner-at-the-start": "\u200cSparrow",
    "joiner-at-the-end": "Sparrow\u200d",
}
#: Real names that must go through: other scripts, and the joiners that some scripts and emoji need.
ONE_LINE_OK = [
    "Sparrow",
    "Фархад",
    "فرهاد",
    "می\u200cخواهم",
    "O'Brien-Smith",
    "👩\u200d⚕️ Medic",
    "Ivan  Petrov",
]


@pytest.mark.parametrize("value", NOT_ONE_LINE.values(), ids=NOT_ONE_LINE.keys())
@pytest.mark.parametrize(
    ("type_name", "data", "field"),
    [
        ("case_opened", {"citizenship": "RU", "category": "deserter"}, "pseudonym"),
        ("reminder_set", {"due_on": "2030-01-01"}, "title"),
        ("lawyer_assigned", {}, "name"),
        ("asylum_applied", {"country": "DE"}, "reference"),
    ],
    ids=["pseudonym", "title", "name", "reference"],
)
def test_single_line_fields_refuse_breaks_controls_and_invisible_formatting(
    type_name: str, data: dict, field: str, value: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        validate_data(type_name, {**data, field: value})
    assert set(raised.value.fields) == {field}
    assert "one line" in raised.value.fields[field] or "visible" in raised.value.fields[field]


@pytest.mark.parametrize("value", ONE_LINE_OK)
def test_single_line_fields_keep_other_scripts_and_joiners(value: str) -> None:
    data = validate_data("case_opened", {"pseudonym": value, "citizenship": "RU", "category": "deserter"})
    assert data["pseudonym"] == value


def test_multi_line_fields_keep_newlines_and_tabs_but_refuse_other_controls_and_bidi() -> None:
    kept = validate_data("note_added", {"text": "Called him.\n\tHe is safe.\r\nNext: Monday, می\u200cخواهم"})
    assert kept["text"] == "Called him.\n\tHe is safe.\nNext: Monday, می\u200cخواهم"
    for bad in ("a\x1bb", "a\x85b", "\u202eevil", "a\u2066b\u2069", "a\u2028b"):
        with pytest.raises(ValidationError) as raised:
            validate_data("note_added", {"text": bad})
        assert set(raised.value.fields) == {"text"}


def test_api_refuses_a_pseudonym_or_a_reminder_title_with_a_newline(sqlite_app: Any, api_for: Any) -> None:
    admin = api_for(sqlite_app, "admin")
    body = {"pseudonym": "Sparrow\nBcc: everyone@example.org", "citizenship": "RU", "category": "deserter"}
    r = admin.post("/cases", body)
    assert r.status_code == 422 and set(r.get_json()["fields"]) == {"pseudonym"}
    case = open_case(admin)
    r = admin.post(
        f"/cases/{case}/events",
        {
            "type": "reminder_set",
            "occurred_on": "2024-01-01",
            "data": {"title": "Call\r\nhim", "due_on": "2030-01-01"},
        },
    )
    assert r.status_code == 422 and set(r.get_json()["fields"]) == {"title"}
    assert admin.get("/cases").get_json()["cases"][0]["pseudonym"] == "Sparrow"
    assert len(admin.get("/cases").get_json()["cases"]) == 1


def test_the_web_form_refuses_a_pseudonym_with_a_newline_next_to_the_field(sqlite_app: Any) -> None:
    cara = signed_in(sqlite_app, "cara", "caseworker")
    form = {"occurred_on": "2024-02-01", "f-citizenship": "RU", "f-category": "conscript"}
    for value in ("Heron\nX", "\u202enoreH", "\u200b"):
        bad = post_form(cara, "/cases/new", {**form, "f-pseudonym": value})
        assert bad.status_code == 422
        assert re.search(r'data-field="pseudonym">[^<]*(one line|visible)', text(bad)), value
    assert "Heron" not in text(cara.get("/cases"))


def test_an_import_with_a_newline_in_a_pseudonym_stores_nothing_and_names_the_field(sqlite_app: Any) -> None:
    rt = sqlite_app.extensions["tracker"]
    case = {"pseudonym": "Heron\nBcc: x@example.org", "citizenship": "RU", "category": "deserter"}
    line = json.dumps({"case": {**case, "occurred_on": "2024-01-01"}, "events": []})
    with pytest.raises(ImportFailed) as raised:
        import_file(rt, io.StringIO(line + "\n"))
    assert "line 1" in str(raised.value) and "case.pseudonym" in str(raised.value)
    with rt.db.read() as session:
        assert session.scalar(sa.text("SELECT count(*) FROM events")) == 0
