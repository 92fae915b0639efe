"""Documents on the case page: attaching a file, downloading it or its thumbnail, and the dossier."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.datastructures import FileStorage

from tracker.events.catalogue import ValidationError
from tracker.files.content import Refused, check
from tracker.services import attachments, dossier, timeline
from tracker.services.runtime import NotFound
from tracker.web.cases.routes import _render_case, bp, case_uuid
from tracker.web.downloads import file_response, pdf_response
from tracker.web.i18n import current_lang
from tracker.web.messages import translate
from tracker.web.security import runtime

#: Which metadata a file carries, as the page names it.
METADATA = {"author": _l("author"), "last_modified_by": _l("last modified by")}


def uploaded() -> FileStorage | None:
    """The file sent in the part `file`, when one was chosen."""
    upload = request.files.get("file")
    return upload if upload is not None and upload.filename else None


def refusal(upload: FileStorage) -> tuple[str, int] | None:
    """Why the file would be refused, and the status to answer; None when it would be accepted."""
    data = upload.stream.read()
    upload.stream.seek(0)
    limit = attachments.max_bytes(runtime())
    if len(data) > limit:
        return _("The file is larger than the limit of %(mb)s MB.", mb=limit // (1024 * 1024)), 413
    try:
        check(data, upload.filename or "", upload.mimetype)
    except Refused as exc:
        return _("The file was not accepted: %(why)s.", why=translate(str(exc))), 415
    return None


def attach_after(case_id: str, upload: FileStorage, event_id: str) -> None:
    """Attach the file sent with an event form to the event just recorded; a refusal is said, not raised."""
    try:
        attach(case_id, upload, event_id)
    except (Refused, ValidationError) as exc:
        why = translate(str(exc)) if isinstance(exc, Refused) else translate(next(iter(exc.fields.values())))
        flash(_("The event was recorded, but the file was not attached: %(why)s.", why=why), "error")


def attach(case_id: str, upload: FileStorage, supports: str | None, occurred_on: str | None = None) -> None:
    """Attach the file and say so; warns when it carries metadata that can name people."""
    upload.stream.seek(0)
    added = attachments.add_attachment(
        runtime(), current_user.actor, case_id, upload.stream.read(), upload.filename or "", upload.mimetype,
        supports_event=supports, occurred_on=occurred_on, source="web", request_id=g.get("request_id"),
    )  # fmt: skip
    flash(_("Attached: %(name)s.", name=upload.filename), "info")
    if added.metadata_found:
        found = ", ".join(str(METADATA.get(m, m)) for m in added.metadata_found)
        flash(
            _(
                "This file carries metadata that can name people (%(found)s). It was stored as it is: "
                "remove the metadata from a copy before sharing it outside the organization.",
                found=found,
            ),
            "error",
        )


@bp.post("/cases/<case_id>/documents")
@login_required
def add_document(case_id: str) -> Any:
    cid = case_uuid(case_id)
    upload = uploaded()
    problem: tuple[str, int] | None = (_("Choose a file to attach."), 400) if upload is None else None
    if upload is not None:
        problem = refusal(upload)
    if upload is not None and problem is None:
        try:
            attach(cid, upload, request.form.get("event_id") or None, request.form.get("occurred_on") or None)
        except attachments.Refused as exc:
            problem = _("The file was not accepted: %(why)s.", why=translate(str(exc))), 415
        except ValidationError as exc:
            problem = translate(next(iter(exc.fields.values()), str(exc))), 422
        else:
            return redirect(url_for("web_cases.case_page", case_id=cid, _anchor="timeline"))
    assert problem is not None
    page = timeline.case_page(runtime(), current_user.actor, cid, None)
    return _render_case(page, {"document": problem[0]}), problem[1]


@bp.get("/attachments/<attachment_id>")
@login_required
def attachment(attachment_id: str) -> Any:
    thumbnail = request.args.get("thumbnail") == "1"
    try:
        found = attachments.download(
            runtime(), current_user.actor, case_uuid(attachment_id), thumbnail=thumbnail, via="web"
        )
    except attachments.Damaged:
        raise NotFound(attachment_id) from None
    return file_response(found, inline=thumbnail)


@bp.get("/cases/<case_id>/dossier.pdf")
@login_required
def dossier_pdf(case_id: str) -> Any:
    from tracker.dossier.pdf import LANGS, render  # fpdf2 and its fonts load only when a dossier is made

    lang = request.args.get("lang") or current_lang()
    if lang not in LANGS:
        lang = "en"
    found = dossier.dossier(
        runtime(), current_user.actor, case_uuid(case_id),
        legal_name=request.args.get("legal_name") == "1", via="web",
    )  # fmt: skip
    return pdf_response(render(found, lang, request.args.get("list_corrections") == "1"), found.case_id)
