"""Attachments and the dossier."""

from __future__ import annotations

from flask import Response, jsonify, request

from tracker.api import ApiError, actor, bp, request_id, runtime
from tracker.api.cases import _case_id, _may_record
from tracker.api.params import bool_param, choice_param
from tracker.events.catalogue import ValidationError
from tracker.services import attachments, dossier
from tracker.web.downloads import file_response, pdf_response


@bp.post("/cases/<case_id>/attachments")
def post_attachment(case_id: str) -> tuple[Response, int]:
    cid = _case_id(case_id)
    _may_record()
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, "the file is required, as the multipart part named file", {"file": "is required"})
    try:
        added = attachments.add_attachment(
            runtime(), actor(), cid, upload.read(), upload.filename or "", upload.mimetype,
            supports_event=(request.form.get("event_id") or None),
            occurred_on=(request.form.get("occurred_on") or None),
            source="api", request_id=request_id(),
        )  # fmt: skip
    except attachments.TooLarge as exc:
        raise ApiError(413, str(exc), {"file": str(exc)}) from None
    except attachments.Refused as exc:
        raise ApiError(415, str(exc), {"file": str(exc)}) from None
    except ValidationError as exc:
        fields = {("event_id" if k == "supports_event" else k): v for k, v in exc.fields.items()}
        raise ValidationError(fields) from None
    body = {
        "id": added.id,
        "version": added.version,
        "media_type": added.media_type,
        "metadata_found": list(added.metadata_found),
    }
    return jsonify(body), 201


@bp.get("/attachments/<attachment_id>")
def get_attachment(attachment_id: str) -> Response:
    thumbnail = bool_param("thumbnail")
    try:
        found = attachments.download(runtime(), actor(), _case_id(attachment_id), thumbnail=thumbnail)
    except attachments.Damaged as exc:
        raise ApiError(500, f"{exc}; `tracker verify` names every such file") from None
    return file_response(found, inline=thumbnail)


@bp.get("/cases/<case_id>/dossier.pdf")
def get_dossier(case_id: str) -> Response:
    from tracker.dossier.pdf import LANGS, render  # fpdf2 and its fonts load only when a dossier is made

    lang = choice_param("lang", LANGS) or "en"
    found = dossier.dossier(
        runtime(), actor(), _case_id(case_id), legal_name=bool_param("legal_name"), via="api"
    )
    pdf = render(found, lang, list_corrections=bool_param("list_corrections"))
    return pdf_response(pdf, found.case_id)
