"""Signed checkpoints: a statement of the whole store that a witness outside the organization keeps.

The statement (canonical JSON, the exact bytes signed) names the time, the number of cases, each case's
version and head hash, a Merkle root over them, and the digest (SHA-256 of the statement) of the
checkpoint before. It is signed with Ed25519 under a signing key derived (HKDF) from the installation key,
which never lives in the database; the public key is printed by `tracker checkpoint` and stored with each
checkpoint. A witness keeps the exported file and checks it with the command in docs/security.md, without
the tracker; `tracker verify --checkpoint FILE` compares the store with a witness's copy.

Merkle tree: leaf = SHA-256(0x00 | case_id ":" version ":" head), node = SHA-256(0x01 | left | right),
leaves in case-id order, an odd last node carried up as it is; the root of no case is SHA-256 of nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from tracker.alerts.mail import check_address, connect, parse_smtp_url
from tracker.services.runtime import Runtime
from tracker.store.events import lock_for_append
from tracker.store.hashing import canonical_json, format_time
from tracker.store.seals import CheckpointRow
from tracker.store.tables import EventRow

FORMAT = "tracker-checkpoint-1"
log = logging.getLogger(__name__)


class CheckpointError(Exception):
    """A checkpoint file cannot be read or does not hold (the message says why)."""


def signing_key(installation_key: bytes) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tracker checkpoint key v1").derive(
        installation_key
    )
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_hex(rt: Runtime) -> str:
    """The public key (32 bytes, hex) that checks this installation's checkpoints."""
    return signing_key(rt.kek).public_key().public_bytes_raw().hex()


def merkle_root(heads: Sequence[Sequence[Any]]) -> str:
    """The Merkle root (hex) over [case_id, version, head] triples in the given (case-id) order."""
    level = [hashlib.sha256(b"\0" + f"{c}:{v}:{h}".encode()).digest() for c, v, h in heads]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        pairs = [level[i : i + 2] for i in range(0, len(level), 2)]
        level = [hashlib.sha256(b"\1" + p[0] + p[1]).digest() if len(p) == 2 else p[0] for p in pairs]
    return level[0].hex()


def _heads(session: Session) -> list[list[Any]]:
    top = (
        sa.select(EventRow.case_id, sa.func.max(EventRow.version).label("version"))
        .group_by(EventRow.case_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(EventRow.case_id, EventRow.version, EventRow.hash)
        .join(top, sa.and_(top.c.case_id == EventRow.case_id, top.c.version == EventRow.version))
        .order_by(EventRow.case_id)
    )
    return [[c, v, h] for c, v, h in rows]


@dataclass(frozen=True)
class Checkpoint:
    id: int
    created_at: datetime
    statement: str
    digest: str
    signature: str
    public_key: str

    @property
    def content(self) -> dict[str, Any]:
        return dict(json.loads(self.statement))

    def export(self) -> dict[str, Any]:
        """The file a witness keeps: the signed bytes as they are, the signature and the public key."""
        return {"statement": self.statement, "signature": self.signature, "public_key": self.public_key}


def _of(row: CheckpointRow) -> Checkpoint:
    at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return Checkpoint(row.id, at, row.statement, row.digest, row.signature, row.public_key)


def make(rt: Runtime) -> Checkpoint:
    """Sign and store a checkpoint of the store as it is now (appends wait for the moment it is read)."""
    key = signing_key(rt.kek)
    with rt.db.write() as session:
        lock_for_append(session)
        previous = session.scalars(
            sa.select(CheckpointRow).order_by(CheckpointRow.id.desc()).limit(1)
        ).first()
        heads = _heads(session)
        now = rt.now()
        statement = canonical_json(
            {
                "format": FORMAT,
                "time": format_time(now),
                "cases": len(heads),
                "heads": heads,
                "root": merkle_root(heads),
                "previous": previous.digest if previous is not None else None,
            }
        )
        row = CheckpointRow(
            created_at=now,
            statement=statement,
            digest=hashlib.sha256(statement.encode()).hexdigest(),
            signature=key.sign(statement.encode()).hex(),
            public_key=key.public_key().public_bytes_raw().hex(),
        )
        session.add(row)
        session.flush()
        return _of(row)


def listed(rt: Runtime, limit: int = 50) -> list[Checkpoint]:
    """The newest checkpoints first."""
    with rt.db.read() as session:
        query = sa.select(CheckpointRow).order_by(CheckpointRow.id.desc()).limit(limit)
        return [_of(r) for r in session.scalars(query)]


def get(rt: Runtime, checkpoint_id: int | None = None) -> Checkpoint | None:
    """One stored checkpoint (the latest when no id is given)."""
    with rt.db.read() as session:
        query = sa.select(CheckpointRow).order_by(CheckpointRow.id.desc()).limit(1)
        if checkpoint_id is not None:
            query = sa.select(CheckpointRow).where(CheckpointRow.id == checkpoint_id)
        row = session.scalars(query).first()
        return _of(row) if row is not None else None


def read_file(text: str, public_key: str | None = None) -> dict[str, Any]:
    """The statement of an exported checkpoint whose signature holds (under `public_key` when given,
    which a witness should: the one in the file proves nothing by itself); CheckpointError otherwise."""
    try:
        doc = json.loads(text)
        statement, signature = doc["statement"], bytes.fromhex(doc["signature"])
        key = bytes.fromhex(public_key or doc["public_key"])
        Ed25519PublicKey.from_public_bytes(key).verify(signature, statement.encode())
        content = json.loads(statement)
    except InvalidSignature:
        problem = "the checkpoint's signature does not hold: it was changed or not signed by this key"
        raise CheckpointError(problem) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CheckpointError("not a tracker checkpoint file") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise CheckpointError("not a tracker checkpoint file")
    if merkle_root(content["heads"]) != content["root"] or len(content["heads"]) != content["cases"]:
        raise CheckpointError("the checkpoint's heads do not give its Merkle root and count")
    return content


def compare(session: Session, content: dict[str, Any]) -> list[tuple[str, str]]:
    """(case id, problem) for every case the store no longer holds as the checkpoint saw it."""
    when = content["time"]
    wanted = {c: (v, h) for c, v, h in content["heads"]}
    seen: dict[str, tuple[int, str | None]] = {}
    query = sa.select(EventRow.case_id, EventRow.version, EventRow.hash).order_by(
        EventRow.case_id, EventRow.version
    )
    for case_id, version, digest in session.execute(query.execution_options(yield_per=5000)):
        want = wanted.get(case_id)
        if want is None:
            continue
        top, at = seen.get(case_id, (0, None))
        seen[case_id] = (version, digest if version == want[0] else at)
    problems: list[tuple[str, str]] = []
    for case_id, (version, head) in wanted.items():
        top, at = seen.get(case_id, (0, None))
        if top == 0:
            problems.append(
                (case_id, f"the case was deleted (the checkpoint of {when} had it at version {version})")
            )
        elif top < version:
            problems.append(
                (
                    case_id,
                    f"versions {top + 1} to {version} are gone since the checkpoint of {when} (cut short)",
                )
            )
        elif at != head:
            problems.append(
                (case_id, f"an event at or before version {version} was changed, removed or moved since the "
                          f"checkpoint of {when}")
            )  # fmt: skip
    return problems


def check_stored(rt: Runtime, session: Session) -> list[tuple[str, str]]:
    """The latest stored checkpoint: its signature under this installation's key, its link to the one before,
    and the store against it."""
    rows = list(session.scalars(sa.select(CheckpointRow).order_by(CheckpointRow.id.desc()).limit(2)))
    if not rows:
        return []
    latest = rows[0]
    problems: list[tuple[str, str]] = []
    try:
        content = read_file(json.dumps(_of(latest).export()), public_key_for(rt, latest.public_key))
    except CheckpointError as exc:
        return [("store", f"the latest checkpoint ({format_time(latest.created_at)}): {exc}")]
    if len(rows) == 2 and content["previous"] != rows[1].digest:
        problems.append(("store", "the latest checkpoint does not follow the one before it"))
    return problems + compare(session, content)


def public_key_for(rt: Runtime, stored: str) -> str:
    """The public key to check a stored checkpoint with: this installation's, or an old installation key's
    (after a rotation) when its public key is the stored one; never the stored key on its own word."""
    for key_id in sorted(rt.known_kek_ids):
        key = signing_key(rt.kek_for(key_id)).public_key().public_bytes_raw().hex()
        if key == stored:
            return key
    return public_key_hex(rt)


def witnesses(rt: Runtime) -> list[str]:
    raw = str(rt.settings.get("CHECKPOINT_WITNESSES") or "")
    return [check_address(a.strip(), "in CHECKPOINT_WITNESSES") for a in raw.split(",") if a.strip()]


def mail(rt: Runtime, checkpoint: Checkpoint) -> int:
    """Send the checkpoint file to every configured witness; returns how many. Without SMTP_URL the
    message is written to the log instead (as alert e-mail is)."""
    to = witnesses(rt)
    if not to:
        return 0
    message = EmailMessage()
    message["From"] = str(rt.settings.get("MAIL_FROM") or "tracker@localhost")
    message["To"] = ", ".join(to)
    message["Subject"] = f"tracker checkpoint {checkpoint.id} of {format_time(checkpoint.created_at)}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="tracker.invalid")
    message.set_content(
        "The signed checkpoint of the case tracker's store is attached. Keep it: it lets you check\n"
        "later that no history recorded before it was changed (docs/security.md, 'Checkpoints').\n"
        f"Public key: {checkpoint.public_key}\nDigest: {checkpoint.digest}\n"
    )
    body = json.dumps(checkpoint.export(), indent=1).encode()
    message.add_attachment(
        body, maintype="application", subtype="json", filename=f"checkpoint-{checkpoint.id}.json"
    )
    url = str(rt.settings.get("SMTP_URL") or "")
    if not url:
        log.info("checkpoint %d not mailed (no SMTP_URL) to %s", checkpoint.id, ", ".join(to))
        return 0
    with connect(parse_smtp_url(url)) as smtp:
        smtp.send_message(message)
    return len(to)
