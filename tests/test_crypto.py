"""Sensitive fields at rest: encrypted in every table and file, opened for those who may see, erasable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import add_event, open_case
from corekit import ADMIN, stored

from tracker.crypto.codec import ENC, ERASED, CryptoError, decrypt_value, encrypt_value, new_case_key
from tracker.services import integrity
from tracker.services.erasure import erase_case
from tracker.store.hashing import GENESIS, event_hash

LEGAL_NAME = "Сидоров Иван Zebedee-Quux"
PHONE = "+7 701 998 877 66"
ADDRESS = "Prospekt Mangilik El 55, flat 1709"
SECRETS = (LEGAL_NAME, PHONE, ADDRESS)


def case_with_secrets(api: Any) -> str:
    case_id = open_case(api, legal_name=LEGAL_NAME)
    add_event(
        api, case_id, "contact_details_changed", "2023-01-01", {"phone": PHONE, "reason": "sim_changed"}
    )
    add_event(
        api, case_id, "relocated", "2023-01-02", {"country": "KZ", "city": "Astana", "address": ADDRESS}
    )
    return case_id


def raw_files(url: str) -> bytes:
    path = Path(sa.make_url(url).database or "")
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def every_cell(rt: Any) -> str:
    """Every value of every table, as text: what a dump of the database would show."""
    out = []
    with rt.db.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                out.extend(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row)
    return "\n".join(out)


def test_the_sqlite_file_holds_no_sensitive_value_in_clear(
    sqlite_app: Any, sqlite_url: str, api_for: Any
) -> None:
    admin = api_for(sqlite_app, "admin")
    case_id = case_with_secrets(admin)
    admin.get(f"/cases/{case_id}/events")
    data = raw_files(sqlite_url)
    assert b"Sparrow" in data  # the file is readable, and pseudonyms are not secret
    for secret in SECRETS:
        for encoded in (secret.encode(), json.dumps(secret).encode()):
            assert encoded not in data, f"{secret!r} is in the database file"


def test_no_table_shows_a_sensitive_value_on_either_engine(app: Any, api_for: Any) -> None:
    admin = api_for(app, "admin")
    case_with_secrets(admin)
    dump = every_cell(app.extensions["tracker"])
    assert "Sparrow" in dump
    for secret in SECRETS:
        assert secret not in dump and json.dumps(secret)[1:-1] not in dump


def test_those_who_may_see_get_the_values_back(sqlite_app: Any, api_for: Any) -> None:
    admin = api_for(sqlite_app, "admin")
    case_id = case_with_secrets(admin)
    events = admin.get(f"/cases/{case_id}/events").get_json()["events"]
    assert events[0]["data"]["legal_name"] == LEGAL_NAME
    assert events[1]["data"]["phone"] == PHONE
    assert events[2]["data"]["address"] == ADDRESS


def test_the_hash_covers_the_encrypted_form(sqlite_app: Any, api_for: Any) -> None:
    admin = api_for(sqlite_app, "admin")
    case_id = case_with_secrets(admin)
    rows = stored(sqlite_app.extensions["tracker"], case_id)
    opened = json.loads(rows[0].data)
    assert set(opened["legal_name"]) == {ENC}
    plain = admin.get(f"/cases/{case_id}/events").get_json()["events"][0]

    def digest(data: str) -> str:
        row = rows[0]
        return event_hash(
            id=row.id, case_id=row.case_id, version=row.version, type=row.type,
            schema_version=row.schema_version, occurred_on=row.occurred_on,
            date_precision=row.date_precision, recorded_at=row.recorded_at, recorded_by=row.recorded_by,
            data=data, metadata=row.meta, previous=GENESIS,
        )  # fmt: skip

    assert digest(rows[0].data) == rows[0].hash
    assert digest(json.dumps(plain["data"], sort_keys=True, separators=(",", ":"))) != rows[0].hash


def test_a_ciphertext_opens_only_where_it_was_sealed() -> None:
    key = new_case_key()
    sealed = encrypt_value(key, "case-1", "event-1", "phone", PHONE)
    assert decrypt_value(key, "case-1", "event-1", "phone", sealed) == PHONE
    for where in (
        ("case-2", "event-1", "phone"),
        ("case-1", "event-2", "phone"),
        ("case-1", "event-1", "address"),
    ):
        with pytest.raises(CryptoError):
            decrypt_value(key, *where, sealed)
    with pytest.raises(CryptoError):
        decrypt_value(new_case_key(), "case-1", "event-1", "phone", sealed)


def test_erasure_makes_the_values_read_erased_and_keeps_the_chain(
    sqlite_app: Any, sqlite_url: str, api_for: Any
) -> None:
    admin = api_for(sqlite_app, "admin")
    auditor = api_for(sqlite_app, "auditor")
    rt = sqlite_app.extensions["tracker"]
    case_id = case_with_secrets(admin)
    other = case_with_secrets(admin)
    with rt.db.engine.connect() as conn:
        wrapped = conn.scalar(sa.text("SELECT wrapped FROM case_keys WHERE case_id = :c"), {"c": case_id})
    before = stored(rt, case_id)

    version = erase_case(rt, ADMIN, case_id, "client asked")

    assert version == 4
    after = stored(rt, case_id)
    assert [(r.id, r.data, r.hash) for r in after[:3]] == [(r.id, r.data, r.hash) for r in before]
    assert after[3].type == "personal_data_erased"
    events = admin.get(f"/cases/{case_id}/events").get_json()["events"]
    assert events[0]["data"]["legal_name"] == ERASED
    assert events[1]["data"]["phone"] == ERASED
    assert events[2]["data"]["address"] == ERASED
    assert events[3]["data"] == {"reason": "client asked"}
    assert "legal_name" not in auditor.get(f"/cases/{case_id}/events").get_json()["events"][0]["data"]
    # The history is still whole and verifiable, and the other case is untouched.
    assert integrity.verify(rt) == (2, [])
    assert admin.get(f"/cases/{other}/events").get_json()["events"][0]["data"]["legal_name"] == LEGAL_NAME
    assert admin.get(f"/cases/{case_id}").get_json()["status"]["pseudonym"] == "Sparrow"
    # The key itself is gone from the file, not only from the table.
    assert wrapped and wrapped not in raw_files(sqlite_url)

    # New sensitive data cannot be recorded for an erased case; other facts can.
    r = admin.post(
        f"/cases/{case_id}/events",
        {"type": "contact_details_changed", "occurred_on": "2023-02-01", "data": {"phone": "+7 1"}},
    )
    assert r.status_code == 422 and "phone" in r.get_json()["fields"]
    # A note is personal data too; an event without any is still recorded.
    r = admin.post(
        f"/cases/{case_id}/events",
        {"type": "note_added", "occurred_on": "2023-02-01", "data": {"text": "still in touch"}},
    )
    assert r.status_code == 422 and "text" in r.get_json()["fields"]
    add_event(admin, case_id, "contact_made", "2023-02-01", {"channel": "still in touch"})
    assert integrity.verify(rt) == (2, [])
