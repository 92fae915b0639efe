"""Answers that carry a file: an attachment, its thumbnail, a dossier."""

from __future__ import annotations

import io

from flask import Response, send_file

from tracker.services.attachments import Download


def file_response(found: Download, inline: bool = False) -> Response:
    """The file as a download under its own name (a thumbnail: shown inline); never sniffed by the browser."""
    response = send_file(
        io.BytesIO(found.data),
        mimetype=found.media_type,
        as_attachment=not inline,
        download_name=found.name if not inline else "thumbnail.jpg",
        etag=False,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def pdf_response(pdf: bytes, case_id: str) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="dossier-{case_id[:8]}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response
