"""Attachments: stored encrypted under the case key, checked by content, downloaded by those who see the case,
unreadable after erasure, and checked by `tracker verify`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import add_event, open_case
from fpdf import FPDF
from PIL import Image

from tracker.auth.tables import AccessRow
from tracker.auth.users import Actor
from tracker.services import erasure, integrity
from tracker.services.attachments import file_store

PDF_TEXT = "SUMMONS-MARKER-7731"
GPS_MARKER = "WGS-84-MARKER-Q7"


def summons_pdf(author: str | None = "Ivan Petrov") -> bytes:
    pdf = FPDF()
    pdf.set_compression(False)  # the text stays readable in the bytes, so its absence on disk means something
    if author:
        pdf.set_author(author)
    pdf.add_page()
    pdf.set_font("helvetica")
    pdf.cell(0, 10, PDF_TEXT)
    return bytes(pdf.output())


def photo_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 5.0), 18: GPS_MARKER})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert GPS_MARKER.encode() in data
    return data


def upload(api: Any, case_id: str, data: bytes, name: str, mimetype: str, **form: str) -> Any:
    return api.client.post(
        f"/api/v1/cases/{case_id}/attachments",
        data={"file": (io.BytesIO(data), name, mimetype), **form},
        headers={"Authorization": f"Bearer {api.token}"},
        content_type="multipart/form-data",
    )


def download(api: Any, attachment_id: str, **params: str) -> Any:
    return api.get(f"/attachments/{attachment_id}", **params)


def everything_stored(app: Any, tmp_path: Path) -> bytes:
    """The bytes of every file under the test's folder (storage folder, SQLite files) and of every row."""
    rt = app.extensions["tracker"]
    rows = []
    with rt.db.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            rows += [repr(tuple(r)).encode() for r in conn.execute(sa.text(f'SELECT * FROM "{table}"'))]
    rt.db.dispose()
    blobs = [p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()]
    return b"".join(blobs + rows)


@pytest.fixture
def worker(app: Any, api_for: Any) -> Any:
    """A caseworker on the engine under test."""
    return api_for(app, "caseworker")


@pytest.fixture
def sqlite_worker(sqlite_app: Any, api_for: Any) -> Any:
    return api_for(sqlite_app, "caseworker")


def test_a_pdf_and_a_photo_are_stored_encrypted_and_download_intact(
    app: Any, worker: Any, tmp_path: Path
) -> None:
    case_id = open_case(worker)
    summons = add_event(
        worker, case_id, "mobilization_order_received", "2023-03-01", {"authority": "Voenkomat"}
    )
    pdf, photo = summons_pdf(), photo_with_gps()
    r = upload(worker, case_id, pdf, "повестка.pdf", "application/pdf", event_id=summons["id"])
    assert r.status_code == 201, r.get_json()
    pdf_id = r.get_json()["id"]
    assert r.get_json()["metadata_found"] == ["author"]
    r = upload(worker, case_id, photo, "border.jpg", "image/jpeg", occurred_on="2023-03-02")
    assert r.status_code == 201, r.get_json()
    photo_id = r.get_json()["id"]

    got = download(worker, pdf_id)
    assert got.status_code == 200 and got.data == pdf
    assert got.mimetype == "application/pdf"
    assert "attachment" in got.headers["Content-Disposition"]
    got = download(worker, photo_id)
    assert got.status_code == 200 and got.mimetype == "image/jpeg"
    shown = Image.open(io.BytesIO(got.data))
    assert shown.size == (64, 48)
    assert shown.getexif().get_ifd(0x8825) == {}  # the position is gone from the stored image itself
    assert GPS_MARKER.encode() not in got.data
    thumb = download(worker, photo_id, thumbnail="true")
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.data)).format == "JPEG"

    events = worker.get(f"/cases/{case_id}/events").get_json()["events"]
    added = {e["id"]: e for e in events if e["type"] == "attachment_added"}
    assert added[pdf_id]["data"]["name"] == "повестка.pdf"
    assert added[pdf_id]["data"]["supports_event"] == summons["id"]
    assert added[photo_id]["occurred_on"] == "2023-03-02"

    folder = file_store(app.extensions["tracker"]).root  # type: ignore[attr-defined]
    assert folder.is_relative_to(tmp_path)
    stored = [p.read_bytes() for p in folder.rglob("*") if p.is_file()]
    assert len(stored) == 3  # the PDF, the photo and its thumbnail
    names = [p.name for p in folder.rglob("*")]
    assert not any("повестка" in n or n.endswith((".pdf", ".jpg")) for n in names)
    disk = everything_stored(app, tmp_path)
    for secret in (PDF_TEXT.encode(), GPS_MARKER.encode(), pdf[200:260], photo[-200:], "повестка".encode()):
        assert secret not in disk


def test_another_caseworker_gets_404_and_the_read_is_logged(app: Any, api_for: Any, worker: Any) -> None:
    case_id = open_case(worker)
    attachment_id = upload(worker, case_id, summons_pdf(), "a.pdf", "application/pdf").get_json()["id"]
    other = api_for(app, "caseworker")
    assert download(other, attachment_id).status_code == 404
    assert upload(other, case_id, summons_pdf(), "b.pdf", "application/pdf").status_code == 404
    assert download(worker, attachment_id).status_code == 200
    auditor = api_for(app, "auditor")
    assert download(auditor, attachment_id).status_code == 403
    rt = app.extensions["tracker"]
    with rt.db.read() as session:
        actions = list(
            session.scalars(sa.select(AccessRow.action).where(AccessRow.username == worker.username))
        )
    assert f"attachment {attachment_id[:8]}" in actions


@pytest.mark.parametrize(
    ("data", "name", "mimetype", "problem"),
    [
        (
            b"%PDF-1.4 but not really" * 0 + b"MZ\x90\x00" + b"\0" * 200,
            "evil.pdf",
            "application/pdf",
            "not of an accepted type",
        ),
        ("photo", "photo.pdf", "application/pdf", "its name says application/pdf"),
        ("pdf", "summons.pdf", "image/png", "sent as image/png"),
        ("pdf", "summons.exe", "application/pdf", "name's ending"),
        (b"", "empty.pdf", "application/pdf", "empty"),
    ],
)
def test_a_file_whose_content_is_not_its_claimed_type_is_refused_and_nothing_is_stored(
    sqlite_app: Any, sqlite_worker: Any, data: Any, name: str, mimetype: str, problem: str
) -> None:
    worker = sqlite_worker
    case_id = open_case(worker)
    body = photo_with_gps() if data == "photo" else summons_pdf() if data == "pdf" else data
    before = worker.get(f"/cases/{case_id}").get_json()["version"]
    r = upload(worker, case_id, body, name, mimetype)
    assert r.status_code in (400, 415), r.get_json()
    assert problem in r.get_json()["error"]
    assert worker.get(f"/cases/{case_id}").get_json()["version"] == before
    folder = file_store(sqlite_app.extensions["tracker"]).root  # type: ignore[attr-defined]
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


def test_a_file_over_the_limit_is_refused_and_nothing_is_stored(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_for: Any
) -> None:
    from conftest import _make_app

    app = _make_app(sqlite_url, tmp_path, monkeypatch, ATTACHMENT_MAX_BYTES=2000)
    try:
        worker = api_for(app, "caseworker")
        case_id = open_case(worker)
        big = summons_pdf() + b"%" + b"x" * 3000
        r = upload(worker, case_id, big, "big.pdf", "application/pdf")
        assert r.status_code == 413
        assert "larger than the limit of 2000 bytes" in r.get_json()["error"]
        # Far over the limit: refused from its length, before it is read.
        r = upload(worker, case_id, b"%PDF" + b"x" * (2 * 1024 * 1024), "huge.pdf", "application/pdf")
        assert r.status_code == 413
        events = worker.get(f"/cases/{case_id}/events").get_json()["events"]
        assert [e["type"] for e in events] == ["case_opened", "caseworker_assigned"]
        folder = file_store(app.extensions["tracker"]).root  # type: ignore[attr-defined]
        assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))
    finally:
        app.extensions["tracker"].db.dispose()


def test_bad_form_fields_are_named_and_leave_no_file(sqlite_app: Any, sqlite_worker: Any) -> None:
    worker = sqlite_worker
    case_id = open_case(worker)
    r = worker.client.post(
        f"/api/v1/cases/{case_id}/attachments", headers={"Authorization": f"Bearer {worker.token}"}
    )
    assert r.status_code == 400 and "file" in r.get_json()["fields"]
    r = upload(worker, case_id, summons_pdf(), "a.pdf", "application/pdf", event_id="not-a-uuid")
    assert r.status_code == 422 and "event_id" in r.get_json()["fields"]
    r = upload(worker, case_id, summons_pdf(), "a.pdf", "application/pdf", event_id=case_id)
    assert r.status_code == 422 and "event_id" in r.get_json()["fields"]
    r = upload(worker, case_id, summons_pdf(), "a.pdf", "application/pdf", occurred_on="2999-01-01")
    assert r.status_code == 422 and "occurred_on" in r.get_json()["fields"]
    # The event_id is checked against the case after the file was written: the file went again.
    folder = file_store(sqlite_app.extensions["tracker"]).root  # type: ignore[attr-defined]
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))
    assert [e["type"] for e in worker.get(f"/cases/{case_id}/events").get_json()["events"]] == [
        "case_opened",
        "caseworker_assigned",
    ]


def test_attachments_are_unreadable_after_erasure(app: Any, worker: Any) -> None:
    rt = app.extensions["tracker"]
    case_id = open_case(worker)
    attachment_id = upload(worker, case_id, photo_with_gps(), "p.jpg", "image/jpeg").get_json()["id"]
    folder = file_store(rt).root  # type: ignore[attr-defined]
    kept = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    erasure.erase_case(rt, Actor("ada", "admin"), case_id, "asked for it")
    assert download(worker, attachment_id).status_code == 404
    assert not any(p.is_file() for p in folder.rglob("*"))
    # A copy of the stored files (a backup of the folder) no longer opens: the case key is gone.
    for path, blob in kept.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    assert download(worker, attachment_id).status_code == 404
    with rt.db.read() as session:
        assert rt.case_key(session, case_id) is None


def test_verify_exits_1_when_a_stored_file_is_altered(app: Any, worker: Any) -> None:
    rt = app.extensions["tracker"]
    case_id = open_case(worker)
    attachment_id = upload(worker, case_id, summons_pdf(), "a.pdf", "application/pdf").get_json()["id"]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 0, result.output
    path = file_store(rt).root / case_id / attachment_id  # type: ignore[attr-defined]
    blob = bytearray(path.read_bytes())
    blob[40] ^= 1
    path.write_bytes(bytes(blob))
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1
    assert f"case {case_id}: attachment {attachment_id}" in result.output
    assert download(worker, attachment_id).status_code == 500
    path.unlink()
    _checked, broken = integrity.verify(rt)
    assert [b.case_id for b in broken] == [case_id] and "missing" in broken[0].problem


def test_an_attachment_cannot_be_corrected_but_can_be_retracted(sqlite_worker: Any) -> None:
    worker = sqlite_worker
    case_id = open_case(worker)
    attachment_id = upload(worker, case_id, summons_pdf(), "a.pdf", "application/pdf").get_json()["id"]
    r = worker.post(
        f"/cases/{case_id}/events",
        {"type": "event_corrected", "occurred_on": "2024-01-01",
         "data": {"event_id": attachment_id, "data": {}, "reason": "wrong"}},
    )  # fmt: skip
    assert r.status_code == 422 and "cannot be corrected" in r.get_json()["fields"]["event_id"]
    add_event(
        worker, case_id, "event_retracted", "2024-01-01", {"event_id": attachment_id, "reason": "wrong file"}
    )
    r = worker.post(
        f"/cases/{case_id}/events",
        {"type": "attachment_added", "occurred_on": "2024-01-01",
         "data": {"sha256": "0" * 64, "name": "x.pdf", "media_type": "application/pdf", "size": 1}},
    )  # fmt: skip
    assert r.status_code == 422 and "own action" in r.get_json()["fields"]["type"]
