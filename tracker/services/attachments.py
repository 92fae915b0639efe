"""Attachments: files stored encrypted under their case's key, recorded by an `attachment_added` event."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from tracker.auth.users import Actor
from tracker.config import instance_path
from tracker.crypto.codec import CryptoError, open_blob, open_fields, seal_blob
from tracker.domain.commands import EventInput
from tracker.events.catalogue import ValidationError, validate_data, validate_occurred_on
from tracker.files.content import Checked, Refused, check
from tracker.files.storage import FileStore, FolderStore
from tracker.projections.tables import CaseRow
from tracker.services.reading import log_access, visible_case
from tracker.services.runtime import Forbidden, NotFound, Runtime
from tracker.services.writing import append_checked, case_context, may_see
from tracker.store.events import lock_for_append, read_streams
from tracker.store.hashing import GENESIS
from tracker.store.tables import EventRow

log = logging.getLogger(__name__)
TYPE = "attachment_added"
DEFAULT_MAX_BYTES = 25 * 1024 * 1024

__all__ = ["Refused", "TooLarge", "add_attachment", "download", "file_store", "max_bytes", "verify_files"]


class TooLarge(Refused):
    """The file is over the installation's limit (ATTACHMENT_MAX_BYTES)."""


class Damaged(Exception):
    """The stored file is missing, does not decrypt, or is not the file its event names."""


@dataclass(frozen=True)
class Added:
    id: str
    version: int
    media_type: str
    metadata_found: tuple[str, ...]


@dataclass(frozen=True)
class Download:
    name: str
    media_type: str
    data: bytes


def file_store(rt: Runtime) -> FileStore:
    """The installation's store of attachment files (ATTACHMENTS_PATH, else instance/attachments)."""
    folder = rt.settings.get("ATTACHMENTS_PATH") or instance_path() / "attachments"
    return FolderStore(Path(folder))


def max_bytes(rt: Runtime) -> int:
    return int(rt.settings.get("ATTACHMENT_MAX_BYTES") or DEFAULT_MAX_BYTES)


def thumbnail_name(attachment_id: str) -> str:
    return attachment_id + ".thumb"


def _file_name(filename: str) -> str:
    # Browsers send a bare name; some clients send a path. Only the last part is the file's name.
    name = filename.replace("\\", "/").rpartition("/")[2].strip()
    if not name:
        raise ValidationError({"file": "a file with a name is required"})
    return name


def add_attachment(
    rt: Runtime,
    actor: Actor,
    case_id: str,
    data: bytes,
    filename: str,
    claimed_type: str | None = None,
    *,
    supports_event: str | None = None,
    occurred_on: object = None,
    source: str = "api",
    request_id: str | None = None,
) -> Added:
    """Check the file, store it encrypted and record `attachment_added`; nothing is stored on refusal."""
    limit = max_bytes(rt)
    if len(data) > limit:
        raise TooLarge(f"the file is larger than the limit of {limit} bytes ({limit // (1024 * 1024)} MB)")
    name = _file_name(filename)
    checked: Checked = check(data, name, claimed_type)
    day = rt.today() if occurred_on in (None, "") else validate_occurred_on(TYPE, occurred_on, rt.today())
    payload: dict[str, object] = {
        "sha256": hashlib.sha256(checked.data).hexdigest(),
        "name": name,
        "media_type": checked.media_type,
        "size": len(checked.data),
    }
    if supports_event:
        payload["supports_event"] = supports_event
    if checked.thumbnail is not None:
        payload["thumbnail"] = True
    if checked.metadata_found:
        payload["metadata_found"] = ",".join(checked.metadata_found)
    try:
        valid = validate_data(TYPE, payload)
    except ValidationError as exc:
        raise ValidationError({("file" if k == "name" else k): v for k, v in exc.fields.items()}) from None
    event = EventInput(TYPE, day, "day", valid)
    store = file_store(rt)
    attachment_id = str(uuid.uuid4())
    names = [attachment_id] + ([thumbnail_name(attachment_id)] if checked.thumbnail else [])
    try:
        stored = _store_and_record(
            rt, actor, case_id, event, checked, attachment_id, store, source, request_id
        )
    except BaseException:
        # Refused, or the transaction did not commit: no file stays without its event.
        for stored_name in names:
            store.delete(case_id, stored_name)
        raise
    return Added(stored.id, stored.version, checked.media_type, checked.metadata_found)


def _store_and_record(
    rt: Runtime,
    actor: Actor,
    case_id: str,
    event: EventInput,
    checked: Checked,
    attachment_id: str,
    store: FileStore,
    source: str,
    request_id: str | None,
) -> EventRow:
    """Write the encrypted file (and thumbnail) and append its event, under the append lock."""
    with rt.db.write() as session:
        lock_for_append(session)
        row = session.get(CaseRow, case_id)
        if row is None or not may_see(session, actor, case_id):
            raise NotFound(case_id)
        if not actor.may_record:
            raise Forbidden("auditors have read-only access")
        key = rt.case_key(session, case_id)
        if key is None:
            raise ValidationError({"file": "the personal data of this case was erased; no file can be added"})
        stream = read_streams(session, [case_id])
        ctx = case_context(session, case_id, stream[-1].version if stream else 0, row.state, stream, False)
        store.put(case_id, attachment_id, seal_blob(key, case_id, attachment_id, checked.data))
        if checked.thumbnail is not None:
            thumb = thumbnail_name(attachment_id)
            store.put(case_id, thumb, seal_blob(key, case_id, thumb, checked.thumbnail))
        (stored,) = append_checked(
            rt, session, actor, case_id, [event], ctx, key, source=source, request_id=request_id,
            previous_hash=stream[-1].hash if stream else GENESIS, prior=stream, ids=[attachment_id],
        )  # fmt: skip
        return stored


def download(
    rt: Runtime, actor: Actor, attachment_id: str, *, thumbnail: bool = False, via: str = "api"
) -> Download:
    """The file (or its thumbnail) of an attachment of a case the actor may see; the read is logged."""
    with rt.db.write() as session:
        row = session.scalar(sa.select(EventRow).where(EventRow.id == attachment_id, EventRow.type == TYPE))
        if row is None:
            raise NotFound(attachment_id)
        visible_case(session, actor, row.case_id)
        if not actor.sees_sensitive:
            raise Forbidden("the contents of attachments are not shown to auditors")
        key = rt.case_key(session, row.case_id)
        if key is None:
            raise NotFound(attachment_id)  # erased: the file cannot be opened by anyone any more
        data = open_fields(json.loads(row.data), key, row.case_id, row.id)
        if thumbnail and not data.get("thumbnail"):
            raise NotFound(attachment_id)
        # The access log's action holds 40 characters: the id's first 8 digits name the file.
        action = "thumbnail" if thumbnail else "attachment"
        log_access(session, rt, actor, row.case_id, f"{action} {attachment_id[:8]}", via)
    name = thumbnail_name(attachment_id) if thumbnail else attachment_id
    plain = _open(rt, key, row.case_id, name)
    if not thumbnail and hashlib.sha256(plain).hexdigest() != data["sha256"]:
        raise Damaged(f"the stored file of attachment {attachment_id} is not the file its event names")
    if thumbnail:
        return Download(str(data["name"]), "image/jpeg", plain)
    return Download(str(data["name"]), str(data["media_type"]), plain)


def _open(rt: Runtime, key: bytes, case_id: str, name: str) -> bytes:
    sealed = file_store(rt).get(case_id, name)
    if sealed is None:
        raise Damaged(f"the stored file {case_id}/{name} is missing")
    try:
        return open_blob(key, case_id, name, sealed)
    except CryptoError as exc:
        raise Damaged(str(exc)) from None


@dataclass(frozen=True)
class BrokenFile:
    case_id: str
    problem: str


def verify_files(rt: Runtime, progress: Callable[[int], None] | None = None) -> list[BrokenFile]:
    """Check that every attachment's stored bytes decrypt to the hash its event (in the chain) names.

    The files of erased cases are not checked: their key is gone, and erasure deleted them.
    """
    broken: list[BrokenFile] = []
    with rt.db.read() as session:
        rows = session.execute(
            sa.select(EventRow.id, EventRow.case_id, EventRow.data)
            .where(EventRow.type == TYPE)
            .order_by(EventRow.case_id, EventRow.version)
        ).all()
        keys: dict[str, bytes | None] = {}
        for row in rows:
            if row.case_id not in keys:
                keys[row.case_id] = rt.case_key(session, row.case_id)
    for row in rows:
        key = keys[row.case_id]
        if key is None:
            continue
        expected = json.loads(row.data).get("sha256")
        try:
            plain = _open(rt, key, row.case_id, row.id)
        except Damaged as exc:
            broken.append(BrokenFile(row.case_id, f"attachment {row.id}: {exc}"))
            continue
        if hashlib.sha256(plain).hexdigest() != expected:
            broken.append(
                BrokenFile(row.case_id, f"attachment {row.id}: the stored file does not match its hash")
            )
        if progress:
            progress(1)
    return broken


def delete_case_files(rt: Runtime, case_ids: list[str]) -> list[str]:
    """Delete the stored files of erased cases (their key is destroyed already); notes on failures."""
    notes = []
    store = file_store(rt)
    for case_id in case_ids:
        try:
            store.delete_case(case_id)
        except OSError as exc:
            notes.append(
                f"the files of case {case_id} could not be deleted ({exc.strerror}); delete them by hand"
            )
    return notes
