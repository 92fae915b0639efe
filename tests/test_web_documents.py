"""Documents on the case page: attaching with an event or on its own, the list under each event with its
thumbnail and download, the metadata warning, refusals, and the dossier button."""

from __future__ import annotations

import io
import re

from browser.webkit import case_id, csrf_token, sign_in, text
from pypdf import PdfReader
from test_attachments import photo_with_gps, summons_pdf


def client_of(app, name):
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


def send(client, path, page, data):
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token}, content_type="multipart/form-data")


def test_a_document_attached_on_the_case_page_is_listed_under_its_event_and_downloads(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    page = text(anna.get(f"/cases/{cid}"))
    assert 'id="add-document"' in page and 'id="dossier"' in page
    contact = re.findall(r'id="event-([^"]+)" data-type="contact_made"', page)[0]
    pdf = summons_pdf()
    r = send(anna, f"/cases/{cid}/documents", f"/cases/{cid}",
             {"file": (io.BytesIO(pdf), "summons.pdf", "application/pdf"), "event_id": contact})  # fmt: skip
    assert r.status_code == 302
    page = text(anna.get(f"/cases/{cid}"))
    event = page[page.index(f'id="event-{contact}"') :]
    event = event[: event.index("</li>\n</ul>") if "</li>\n</ul>" in event else len(event)]
    link = re.search(r'href="(/attachments/[^"]+)" download>summons.pdf<', event)
    assert link, "the file is listed under the event it supports"
    assert "added by anna" in event and "application/pdf" in event
    assert "metadata that can name people" in page  # the PDF has an author
    got = anna.get(link.group(1))
    assert got.status_code == 200 and got.data == pdf
    boris = client_of(demo_app, "boris")
    assert boris.get(link.group(1)).status_code == 404

    photo = photo_with_gps()
    r = send(anna, f"/cases/{cid}/documents", f"/cases/{cid}",
             {"file": (io.BytesIO(photo), "photo.jpg", "image/jpeg")})  # fmt: skip
    assert r.status_code == 302
    page = text(anna.get(f"/cases/{cid}"))
    thumb = re.search(r'<img class="thumb" src="([^"]+)"', page)
    assert thumb and anna.get(thumb.group(1).replace("&amp;", "&")).mimetype == "image/jpeg"


def test_a_refused_document_is_named_and_nothing_is_stored(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    before = text(anna.get(f"/cases/{cid}")).count('class="attachment')
    r = send(anna, f"/cases/{cid}/documents", f"/cases/{cid}",
             {"file": (io.BytesIO(photo_with_gps()), "summons.pdf", "application/pdf")})  # fmt: skip
    assert r.status_code == 415
    assert "The file was not accepted: the file&#39;s content is image/jpeg" in text(r)
    assert text(anna.get(f"/cases/{cid}")).count('class="attachment') == before


def test_an_event_form_takes_a_document_with_the_event(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    path = f"/cases/{cid}/events/new"
    form = text(anna.get(f"{path}?type=note_added"))
    assert 'enctype="multipart/form-data"' in form and 'name="file"' in form
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    fields = {
        "type": "note_added",
        "version": version,
        "f-text": "Scan of the summons",
        "occurred_on": "2024-01-02",
    }
    not_pdf = (io.BytesIO(b"not a document at all"), "scan.pdf", "application/pdf")
    bad = send(anna, path, f"{path}?type=note_added", {**fields, "file": not_pdf})
    assert bad.status_code == 415 and "was not accepted" in text(bad)
    pdf = (io.BytesIO(summons_pdf(author=None)), "scan.pdf", "application/pdf")
    good = send(anna, path, f"{path}?type=note_added", {**fields, "file": pdf})
    assert good.status_code == 302, text(good)
    event_id = good.headers["Location"].rpartition("#event-")[2]
    page = text(anna.get(f"/cases/{cid}"))
    event = page[page.index(f'id="event-{event_id}"') :]
    assert re.search(r"download>scan.pdf<", event[:4000])
    assert page.count("Scan of the summons") == 1


def test_the_dossier_button_makes_the_pdf_in_the_chosen_language(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    r = anna.get(f"/cases/{cid}/dossier.pdf?lang=ru&list_corrections=1")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    body = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
    assert "Хронология дела" in body and "Исправления и отзывы" in body
    assert client_of(demo_app, "boris").get(f"/cases/{cid}/dossier.pdf").status_code == 404


def test_attachments_have_no_event_form_and_no_mark_in_the_chronology(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    assert anna.get(f"/cases/{cid}/events/new?type=attachment_added").status_code == 404
    page = text(anna.get(f"/cases/{cid}"))
    marks = page.count('class="event-mark')
    r = send(anna, f"/cases/{cid}/documents", f"/cases/{cid}",
             {"file": (io.BytesIO(summons_pdf()), "a.pdf", "application/pdf")})  # fmt: skip
    assert r.status_code == 302
    page = text(anna.get(f"/cases/{cid}"))
    assert page.count('class="event-mark') == marks and 'data-type="attachment_added"' in page


def test_a_refusal_is_said_in_russian(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    assert anna.get(f"/cases/{cid}?lang=ru").status_code == 200
    r = send(anna, f"/cases/{cid}/documents", f"/cases/{cid}",
             {"file": (io.BytesIO(photo_with_gps()), "summons.pdf", "application/pdf")})  # fmt: skip
    assert r.status_code == 415
    assert "Файл не принят: содержимое файла — image/jpeg, а имя говорит application/pdf." in text(r)
    r = send(anna, f"/cases/{cid}/documents", f"/cases/{cid}",
             {"file": (io.BytesIO(summons_pdf()), "a.pdf", "application/pdf"), "event_id": cid})  # fmt: skip
    assert r.status_code == 422 and "выберите событие этого дела, которое подтверждает файл" in text(r)
