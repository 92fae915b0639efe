"""The dossier: every fact that counts in date order, with its honest date and label, in English and
Russian; no retracted fact; the head hash; attachments by name and hash."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date
from conftest import Json, add_event
from flask_babel import force_locale
from PIL import Image
from pypdf import PdfReader
from test_attachments import summons_pdf, upload

from tracker.web.labels import type_label

LANGS = ("en", "ru")


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def shown_day(day: str, precision: str, lang: str) -> str:
    if precision == "year":
        return day[:4]
    if precision == "month":
        return format_date(date.fromisoformat(day), "LLLL y", locale=lang)
    return day


def facts(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(day, precision, type) of every event that counts, in story order, from the raw events."""
    moved: dict[str, str] = {}
    retracted: set[str] = set()
    for e in events:
        if e["type"] == "event_corrected" and e["data"].get("occurred_on"):
            moved[e["data"]["event_id"]] = e["data"]["occurred_on"]
        if e["type"] == "event_retracted":
            retracted.add(e["data"]["event_id"])
    counting = [
        (moved.get(e["id"], e["occurred_on"]), e["version"], e["date_precision"], e["type"])
        for e in events
        if e["type"] not in ("event_corrected", "event_retracted") and e["id"] not in retracted
    ]
    return [(day, precision, kind) for day, _v, precision, kind in sorted(counting)]


def lines_in_order(text: str, wanted: list[str]) -> list[str]:
    """The wanted lines not found in order in the text (an empty list when all are)."""
    lines = [line.strip() for line in text.splitlines()]
    at, missing = 0, []
    for line in wanted:
        try:
            at = lines.index(line, at) + 1
        except ValueError:
            missing.append(line)
    return missing


@pytest.fixture
def admin(demo_app: Any, api_for: Any) -> Any:
    return api_for(demo_app, "admin")


def test_every_demo_dossier_renders_its_facts_in_order_in_english_and_russian(
    demo_app: Any, admin: Any
) -> None:
    cases = admin.get("/cases").get_json()["cases"]
    assert len(cases) == 4
    first = cases[0]["id"]
    events = admin.get(f"/cases/{first}/events").get_json()["events"]
    # One fact retracted, one moved to another day by a correction.
    gone = next(e for e in events if e["type"] == "contact_made" or e["type"] == "note_added")
    add_event(
        admin, first, "event_retracted", "2024-01-01", {"event_id": gone["id"], "reason": "entered twice"}
    )
    moved = next(e for e in events if e["type"] == "fled_country")
    add_event(
        admin, first, "event_corrected", "2024-01-01",
        {"event_id": moved["id"], "data": moved["data"], "occurred_on": "2022-09-20", "reason": "the ticket"},
    )  # fmt: skip
    for case in cases:
        events = admin.get(f"/cases/{case['id']}/events").get_json()["events"]
        head = events[-1]["hash"]
        for lang in LANGS:
            r = admin.get(f"/cases/{case['id']}/dossier.pdf", lang=lang)
            assert r.status_code == 200 and r.mimetype == "application/pdf"
            text = pdf_text(r.data)
            with demo_app.test_request_context(), force_locale(lang):
                wanted = [f"{shown_day(d, p, lang)} — {type_label(t)}" for d, p, t in facts(events)]
            assert lines_in_order(text, wanted) == [], (case["pseudonym"], lang)
            assert head in text.replace("\n", "")
            assert case["pseudonym"] in text
            if case["id"] == first:
                day = shown_day(gone["occurred_on"], gone["date_precision"], lang)
                with demo_app.test_request_context(), force_locale(lang):
                    retracted = f"{day} — {type_label(gone['type'])}"
                assert wanted.count(retracted) == 0 and retracted not in text
    month = next(e for e in events if e["date_precision"] == "month")
    assert format_date(date.fromisoformat(month["occurred_on"]), "LLLL y", locale="en") in pdf_text(
        admin.get(f"/cases/{cases[-1]['id']}/dossier.pdf").data
    )


def test_dossier_lists_attachments_corrections_and_the_legal_name_on_request(
    sqlite_app: Any, api_for: Any
) -> None:
    from conftest import open_case

    worker = api_for(sqlite_app, "caseworker")
    case_id = open_case(worker, pseudonym="Owl", legal_name="Пётр Иванов")
    order = add_event(
        worker, case_id, "mobilization_order_received", "2023-03-01", {"authority": "Voenkomat"}
    )
    added = upload(worker, case_id, summons_pdf(), "повестка.pdf", "application/pdf", event_id=order["id"])
    sha = worker.get(f"/cases/{case_id}/events").get_json()["events"][-1]["data"]["sha256"]
    fix = {"event_id": order["id"], "data": {"authority": "Military office"}, "reason": "typo in the name"}
    add_event(worker, case_id, "event_corrected", "2024-01-01", fix)
    plain = pdf_text(worker.get(f"/cases/{case_id}/dossier.pdf", lang="ru").data)
    assert "Пётр Иванов" not in plain
    assert "повестка.pdf" in plain and sha in plain.replace("\n", "")
    assert "Military office" in plain and "Voenkomat" not in plain
    assert "typo in the name" in plain  # the correction applied is named under its fact
    full = pdf_text(
        worker.get(f"/cases/{case_id}/dossier.pdf", legal_name="true", list_corrections="true").data
    )
    assert "Пётр Иванов" in full
    assert "Corrections and retractions" in full
    auditor = api_for(sqlite_app, "auditor")
    assert auditor.get(f"/cases/{case_id}/dossier.pdf", legal_name="true").status_code == 403
    other = api_for(sqlite_app, "caseworker")
    assert other.get(f"/cases/{case_id}/dossier.pdf").status_code == 404
    assert worker.get(f"/cases/{case_id}/dossier.pdf", lang="de").status_code == 400
    assert added.status_code == 201


def test_tracker_dossier_writes_the_pdf(demo_app: Any, admin: Any, tmp_path: Path) -> None:
    case = admin.get("/cases").get_json()["cases"][1]
    out = tmp_path / "d.pdf"
    result = demo_app.test_cli_runner().invoke(
        args=["dossier", case["id"], "-o", str(out), "--lang", "ru", "--legal-name"]
    )
    assert result.exit_code == 0, result.output
    text = pdf_text(out.read_bytes())
    assert "Хронология дела" in text and case["pseudonym"] in text
    reader = PdfReader(str(out))
    fonts = {str(font["/BaseFont"]) for page in reader.pages for font in page["/Resources"]["/Font"].values()}
    assert fonts and all("DejaVu" in f for f in fonts)
    bad = demo_app.test_cli_runner().invoke(args=["dossier", "not-a-case", "-o", str(tmp_path / "x.pdf")])
    assert bad.exit_code != 0 and not (tmp_path / "x.pdf").exists()


SHOTS = os.environ.get("TRACKER_SCREENSHOTS")  # a folder: the docs' pictures of a dossier page go there


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="pdftoppm (Debian's poppler-utils) is not installed"
)
@pytest.mark.parametrize(("lang", "name"), [("en", "dossier"), ("ru", "dossier_ru")])
def test_a_dossier_page_renders_to_png(
    demo_app: Any, admin: Any, tmp_path: Path, lang: str, name: str
) -> None:
    from tracker.auth.users import issue_token

    rt = demo_app.extensions["tracker"]
    with rt.db.write() as session:
        anna = Json(demo_app.test_client(), issue_token(session, "anna"))  # the demo cases are hers
    case = next(c for c in anna.get("/cases").get_json()["cases"] if c["pseudonym"] == "Yevgeny")
    pdf = tmp_path / "dossier.pdf"
    pdf.write_bytes(anna.get(f"/cases/{case['id']}/dossier.pdf", lang=lang).data)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(tmp_path / name)],
        check=True,
    )
    with Image.open(tmp_path / f"{name}.png") as image:
        width, height = image.size
        assert abs(height / width - 297 / 210) < 0.01  # an A4 page
        # Text was drawn: a good share of the page is not white.
        dark = sum(image.convert("L").point(lambda p: 255 if p < 128 else 0).histogram()[255:])
        assert dark > width * height * 0.01
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / f"{name}.png", Path(SHOTS) / f"{name}.png")
