"""Finding cases by legal name, phone, document and reference numbers through the blind index."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import add_event, open_case
from corekit import ADMIN, new_case, record, table_rows

from tracker.auth.users import Actor
from tracker.events.catalogue import CATALOGUE
from tracker.search.normalize import query_tokens, value_tokens, words
from tracker.services import integrity, reading
from tracker.services.erasure import erase_case
from tracker.services.transfer import import_file


def found(rt: Any, actor: Actor, q: str) -> list[str]:
    cases, _ = reading.list_cases(rt, actor, reading.CaseFilter(q=q))
    return [c["pseudonym"] for c in cases]


@pytest.mark.parametrize(
    ("written", "typed"),
    [
        ("Иванов", "Ivanov"),
        ("Ivanov", "Иванов"),
        ("Иванов", "Iwanow"),
        ("Юрий", "Jurij"),
        ("Евгений", "Yevgeny"),
        ("Сергей Ёлкин", "sergei elkin"),
        ("Ходорковский", "Khodorkovsky"),
        ("Алексей", "Alexei"),
        ("Воробьёв", "Vorobiev"),
        ("Воробьёв", "Vorobjov"),
        ("Фёдор", "Fyodor"),
        ("José Müller", "jose MULLER"),
    ],
)
def test_names_written_in_one_script_match_when_typed_in_another(written: str, typed: str) -> None:
    assert words(typed) and all("p:" + w in value_tokens(written) for w in words(typed))


def test_numbers_match_without_their_separators() -> None:
    phone = value_tokens("+7 (912) 345-67-89")
    assert all(t in phone for t in query_tokens("8 912 345 67 89")[1] if t.startswith("d:"))
    assert query_tokens("345-67-89")[1][0] in phone
    assert query_tokens("45 12 345678")[1][1] in value_tokens("4512-345678")
    assert query_tokens("ab 1234567")[1][-1] in value_tokens("AB-123 45 67")
    assert query_tokens("345-67-80")[1][0] not in phone


@pytest.fixture
def people(rt: Any) -> dict[str, str]:
    """Three cases: Sparrow (anna's) with a legal name, phone, passport and asylum reference; Owl
    (boris's) with another name; Crow (nobody's) with no personal data."""
    from tracker.auth.users import create_user

    with rt.db.write() as session:
        create_user(session, "anna", "caseworker", "correct-horse-battery-staple")
        create_user(session, "boris", "caseworker", "correct-horse-battery-staple")
    anna, boris = Actor("anna", "caseworker"), Actor("boris", "caseworker")
    sparrow = new_case(rt, "Sparrow", actor=anna)
    record(rt, sparrow, "event_corrected", "2022-09-26", event_id=_first(rt, sparrow), reason="name", data={
        "pseudonym": "Sparrow", "legal_name": "Иван Петрович Воробьёв", "citizenship": "RU",
        "category": "mobilization_evader",
    })  # fmt: skip
    record(rt, sparrow, "contact_details_changed", "2022-09-27", phone="+7 (912) 345-67-89",
           messenger="@vorobey")  # fmt: skip
    record(rt, sparrow, "document_recorded", "2022-09-28", kind="international_passport", number="75 1234567",
           status="held")  # fmt: skip
    record(rt, sparrow, "asylum_applied", "2022-10-01", country="KZ", reference="KZ-2022/4411")
    owl = new_case(rt, "Owl", actor=boris)
    record(rt, owl, "contact_details_changed", "2022-09-27", phone="+995 555 12 34 56")
    crow = new_case(rt, "Crow")
    return {"sparrow": sparrow, "owl": owl, "crow": crow}


def _first(rt: Any, case_id: str) -> str:
    return str(reading.case_events(rt, ADMIN, case_id)[0]["id"])


def test_a_supervisor_finds_a_case_by_what_is_known_of_the_person(rt: Any, people: dict[str, str]) -> None:
    sam = Actor("sam", "supervisor")
    for q in ("Воробьёв", "vorobyov", "Vorobiev Ivan", "иван воро", "+7 912 345 67 89", "89123456789",
              "3456789", "vorobey", "751234567", "75 1234567", "kz-2022/4411", "spar"):  # fmt: skip
        assert found(rt, sam, q) == ["Sparrow"], q
    assert found(rt, sam, "555 12 34 56") == ["Owl"]
    for q in ("Petrenko", "Ivan Sidorov", "3456788", "ivanovich"):
        assert found(rt, sam, q) == [], q


def test_a_caseworker_finds_only_their_own_cases(rt: Any, people: dict[str, str]) -> None:
    anna, boris = Actor("anna", "caseworker"), Actor("boris", "caseworker")
    assert found(rt, anna, "Воробьёв") == ["Sparrow"]
    assert found(rt, boris, "Воробьёв") == []
    assert found(rt, boris, "912 345 67 89") == []
    assert found(rt, boris, "555 12 34 56") == ["Owl"]


def test_an_auditor_never_matches_on_a_sensitive_field(rt: Any, people: dict[str, str]) -> None:
    otto = Actor("otto", "auditor")
    for q in ("Воробьёв", "Ivan", "912 345 67 89", "75 1234567", "KZ-2022/4411", "vorobey"):
        assert found(rt, otto, q) == [], q
    assert found(rt, otto, "Воробей") == []  # not the pseudonym's transliteration either
    assert found(rt, otto, "sparrow") == ["Sparrow"]


def test_corrections_and_retractions_change_what_is_found(rt: Any, people: dict[str, str]) -> None:
    sam, sparrow = Actor("sam", "supervisor"), people["sparrow"]
    contact = [e for e in reading.case_events(rt, ADMIN, sparrow) if e["type"] == "contact_details_changed"]
    record(rt, sparrow, "event_corrected", "2022-10-02", event_id=contact[0]["id"], reason="typo",
           data={"phone": "+7 912 000 11 22", "messenger": "@vorobey"})  # fmt: skip
    assert found(rt, sam, "912 345 67 89") == []
    assert found(rt, sam, "912 000 11 22") == ["Sparrow"]
    record(rt, sparrow, "event_retracted", "2022-10-03", event_id=contact[0]["id"], reason="wrong person")
    assert found(rt, sam, "912 000 11 22") == []
    assert found(rt, sam, "vorobey") == []
    assert found(rt, sam, "Воробьёв") == ["Sparrow"]


def test_erasure_drops_every_sensitive_token(rt: Any, people: dict[str, str]) -> None:
    sam = Actor("sam", "supervisor")
    erase_case(rt, ADMIN, people["sparrow"], "asked to be forgotten")
    for q in ("Воробьёв", "912 345 67 89", "75 1234567"):
        assert found(rt, sam, q) == [], q
    assert found(rt, sam, "Sparrow") == ["Sparrow"]
    with rt.db.engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT count(*) FROM search_tokens WHERE case_id = :c AND sensitive"),
            {"c": people["sparrow"]},
        ).scalar()
    assert left == 0
    integrity.rebuild(rt)
    assert found(rt, sam, "Воробьёв") == []
    assert found(rt, sam, "Sparrow") == ["Sparrow"]


def test_a_rebuild_reproduces_the_index(rt: Any, people: dict[str, str]) -> None:
    before = table_rows(rt, "search_tokens", "case_id, event_id, field, digest")
    assert len(before) > 50
    with rt.db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM search_tokens")
    assert found(rt, Actor("sam", "supervisor"), "Воробьёв") == []
    integrity.rebuild(rt)
    assert table_rows(rt, "search_tokens", "case_id, event_id, field, digest") == before


def test_imported_cases_are_found(rt: Any) -> None:
    line = {
        "case": {"pseudonym": "Heron", "legal_name": "Пётр Цаплин", "citizenship": "RU",
                 "category": "deserter", "occurred_on": "2022-10-01"},
        "events": [{"type": "contact_details_changed", "occurred_on": "2022-10-02",
                    "data": {"phone": "+7 700 765 43 21"}}],
    }  # fmt: skip
    import_file(rt, io.StringIO(json.dumps(line, ensure_ascii=False) + "\n"))
    sam = Actor("sam", "supervisor")
    assert found(rt, sam, "Pyotr Tsaplin") == found(rt, sam, "Петр Цаплин") == ["Heron"]
    assert found(rt, sam, "7657 43 21") == []
    assert found(rt, sam, "765 43 21") == ["Heron"]


def _payload(event_type: Any, name: str, value: str) -> dict[str, Any] | None:
    """The smallest valid payload of a type with `value` in field `name`; None when one cannot be made."""
    simple = {"str": "x", "text": "x", "country": "KZ", "date": "2022-10-01", "bool": False}
    data: dict[str, Any] = {}
    for f in event_type.fields:
        if f.name == name:
            data[name] = value
        elif f.required:
            if f.kind == "enum":
                data[f.name] = f.choices[0]
            elif f.kind in ("int", "number"):
                data[f.name] = int(f.minimum or 1)
            elif f.kind in simple:
                data[f.name] = simple[f.kind]
            else:
                return None
    return data


def test_every_sensitive_text_field_of_the_catalogue_is_searchable(rt: Any) -> None:
    sam = Actor("sam", "supervisor")
    case_id = new_case(rt, "Kite")
    tried = 0
    for event_type in CATALOGUE.values():
        for f in event_type.fields:
            if not f.sensitive or f.kind not in ("str", "text") or event_type.name == "case_opened":
                continue
            word = f"zq{tried:02d}{event_type.name.replace('_', '')}{f.name.replace('_', '')}"[:18]
            data = _payload(event_type, f.name, f"Findme {word}")
            if data is None:
                continue
            record(rt, case_id, event_type.name, "2022-10-01", **data)
            assert found(rt, sam, word) == ["Kite"], f"{event_type.name}.{f.name}"
            tried += 1
    assert tried >= 8


def test_the_api_searches_with_q_and_keeps_its_answers_without_it(sqlite_app: Any, api_for: Any) -> None:
    sqlite_app.extensions["tracker"].clock = lambda: datetime(2023, 6, 1, 12, 0, tzinfo=UTC)
    admin = api_for(sqlite_app, "admin")
    otto = api_for(sqlite_app, "auditor")
    sparrow = open_case(admin, "Sparrow", legal_name="Воробьёв Иван")
    open_case(admin, "Owl")
    add_event(admin, sparrow, "contact_details_changed", "2023-01-01", {"phone": "+7 912 345 67 89"})

    def listed(api: Any, **params: Any) -> list[str]:
        r = api.get("/cases", **params)
        assert r.status_code == 200, r.get_json()
        return [c["pseudonym"] for c in r.get_json()["cases"]]

    assert listed(admin) == ["Owl", "Sparrow"]
    assert listed(admin, q="vorobyov") == ["Sparrow"]
    assert listed(admin, q="(912) 345-6789") == ["Sparrow"]
    assert listed(admin, q="wl") == ["Owl"]  # any part of the pseudonym, as before
    assert listed(otto, q="vorobyov") == []


def test_no_value_of_the_index_is_stored_in_clear(sqlite_app: Any, api_for: Any, tmp_path: Path) -> None:
    admin = api_for(sqlite_app, "admin")
    open_case(admin, "Sparrow", legal_name="Vorobyov Ivanovich")
    rt = sqlite_app.extensions["tracker"]
    rt.db.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("tracker.db*"))
    assert b"Sparrow" in raw
    for secret in (b"Vorobyov", b"vorobyov", b"ivanovich", b"vorob"):
        assert secret not in raw


def test_a_key_rotation_moves_the_index_under_the_new_key(
    app: Any, rt: Any, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import secrets

    from conftest import DATA_KEY, _make_app

    from tracker.services import keys

    sam = Actor("sam", "supervisor")
    case_id = new_case(rt, "Sparrow")
    record(rt, case_id, "contact_details_changed", "2022-10-01", phone="+7 912 345 67 89")
    before = table_rows(rt, "search_tokens", "case_id, event_id, field, digest")
    new_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    both = _make_app(db_url, tmp_path, monkeypatch, DATA_KEY=new_key, OLD_DATA_KEYS=DATA_KEY)
    rt2 = both.extensions["tracker"]
    # Before the rotation, the old key's digests are still found.
    assert found(rt2, sam, "912 345 67 89") == ["Sparrow"]
    keys.rotate(rt2, ADMIN)
    after = table_rows(rt2, "search_tokens", "case_id, event_id, field, digest")
    assert len(after) == len(before) and not {r["digest"] for r in after} & {r["digest"] for r in before}
    both.extensions["tracker"].db.dispose()
    only_new = _make_app(db_url, tmp_path, monkeypatch, DATA_KEY=new_key)
    assert found(only_new.extensions["tracker"], sam, "912 345 67 89") == ["Sparrow"]
    only_new.extensions["tracker"].db.dispose()


def test_every_signed_in_page_has_the_search_box_and_the_list_finds_by_legal_name(
    sqlite_app: Any, api_for: Any
) -> None:
    from browser.webkit import signed_in, text

    admin = api_for(sqlite_app, "admin")
    open_case(admin, "Sparrow", legal_name="Воробьёв Иван")
    open_case(admin, "Owl")
    assert 'id="top-q"' not in text(sqlite_app.test_client().get("/login"))
    sam = signed_in(sqlite_app, "sam", "supervisor")
    for path in ("/", "/cases", "/alerts", "/account"):
        assert 'action="/cases"' in text(sam.get(path)) and 'id="top-q"' in text(sam.get(path)), path
    listed = text(sam.get("/cases?q=Vorobyov+Iva"))
    assert "Sparrow" in listed and "Owl" not in listed
    otto = signed_in(sqlite_app, "otto", "auditor")
    assert "Sparrow" not in text(otto.get("/cases?q=Vorobyov"))
    assert "auditors do not search personal data" in text(otto.get("/cases"))


def test_many_matches_are_listed_as_few_are(rt: Any, people: dict[str, str], monkeypatch: Any) -> None:
    sam, anna = Actor("sam", "supervisor"), Actor("anna", "caseworker")
    queries = ("Воробьёв", "912 345 67 89", "o", "ow", "r", "555 12 34 56", "nobody")
    few = {q: (found(rt, sam, q), found(rt, anna, q)) for q in queries}
    monkeypatch.setattr(reading, "FEW_MATCHES", 0)
    assert {q: (found(rt, sam, q), found(rt, anna, q)) for q in queries} == few
    assert few["ow"][0] == ["Crow", "Owl", "Sparrow"] and few["Воробьёв"] == (["Sparrow"], ["Sparrow"])
