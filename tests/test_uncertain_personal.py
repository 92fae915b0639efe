"""Schema version 2 of note_added, relatives_pressured and asylum_applied; related people.

What is personal is sealed at rest and kept from auditors; what is uncertain can be recorded; events
stored under version 1 (before) still read as they were, through the API and the web.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from browser.webkit import make_user, sign_in, text
from conftest import Json, add_event, open_case

from tracker.events import catalogue
from tracker.events.catalogue import CATALOGUE, SENSITIVE, Field
from tracker.store.tables import EventRow

NOTE = "Mother was questioned by Major Petrov at Ryazan FSB"
WHO = "his mother and his younger sister"


@pytest.fixture
def people(app: Any, api_for: Any) -> dict[str, Json]:
    return {
        "anna": api_for(app, "caseworker", "anna"),
        "otto": api_for(app, "auditor", "otto"),
        "ada": api_for(app, "admin", "ada"),
    }


def _case(people: dict[str, Json]) -> str:
    return open_case(people["anna"], "Sparrow", occurred_on="2022-09-25")


def _raw_bytes(app: Any) -> bytes:
    """Everything the database keeps of the events: the SQLite files, or PostgreSQL's stored text."""
    rt = app.extensions["tracker"]
    url = str(rt.db.engine.url)
    if url.startswith("sqlite"):
        rt.db.engine.dispose()
        path = Path(rt.db.engine.url.database)
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    with rt.db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT data, metadata FROM events")).all()
    return "\n".join(f"{d}\n{m}" for d, m in rows).encode()


def _events(api: Json, case: str) -> list[dict[str, Any]]:
    r = api.get(f"/cases/{case}/events")
    assert r.status_code == 200
    return list(r.get_json()["events"])


def test_a_note_is_sealed_at_rest_and_kept_from_auditors(app, people) -> None:
    anna, otto = people["anna"], people["otto"]
    case = _case(people)
    add_event(anna, case, "note_added", "2022-10-01", {"text": NOTE})
    assert _events(anna, case)[-1]["schema_version"] == 2
    assert NOTE.encode() not in _raw_bytes(app)
    assert NOTE.split()[-2].encode() not in _raw_bytes(app)  # not even a word of it
    assert _events(anna, case)[-1]["data"] == {"text": NOTE}
    assert _events(otto, case)[-1]["data"] == {}
    assert (
        "text"
        in otto.get("/event-types").get_json()["event_types"][
            [t["type"] for t in otto.get("/event-types").get_json()["event_types"]].index("note_added")
        ]["sensitive_fields"]
    )


def test_a_related_person_and_the_pressure_on_them_are_personal(app, people) -> None:
    anna, otto = people["anna"], people["otto"]
    case = _case(people)
    mother = add_event(
        anna, case, "related_person_recorded", "2022-10-01",
        {"relation": "mother", "legal_name": "Galina Ivanova", "country": "RU", "city": "Ryazan",
         "contact": "+7 912 000 11 22", "note": "Does not want calls at work"},
    )["id"]  # fmt: skip
    add_event(
        anna, case, "relatives_pressured", "2022-10-02",
        {"kind": "questioned", "who": WHO, "related_person": mother},
    )  # fmt: skip
    raw = _raw_bytes(app)
    for secret in ("Galina Ivanova", "+7 912 000 11 22", "Does not want calls", WHO):
        assert secret.encode() not in raw
    seen = {e["type"]: e["data"] for e in _events(otto, case)}
    assert seen["related_person_recorded"] == {"relation": "mother", "country": "RU", "city": "Ryazan"}
    assert seen["relatives_pressured"] == {"kind": "questioned", "related_person": mother}
    shown = {e["type"]: e["data"] for e in _events(anna, case)}
    assert shown["relatives_pressured"]["who"] == WHO
    other = _case(people)
    r = anna.post(
        f"/cases/{other}/events",
        {"type": "relatives_pressured", "occurred_on": "2022-10-02",
         "data": {"kind": "searched", "related_person": mother}},
    )  # fmt: skip
    assert r.status_code == 422
    assert r.get_json()["fields"] == {
        "related_person": "no related_person_recorded event with this id in this case"
    }


def test_an_asylum_application_of_unknown_country_shows_in_the_status(app, people) -> None:
    anna = people["anna"]
    case = _case(people)
    assert anna.get(f"/cases/{case}").get_json()["status"]["asylum"] == []
    add_event(anna, case, "asylum_applied", "2023-02-01", {"route": "embassy"})
    (entry,) = anna.get(f"/cases/{case}").get_json()["status"]["asylum"]
    assert (entry["country"], entry["stage"], entry["applied_on"]) == (None, "applied", "2023-02-01")
    make_user(app, "anna.web", "caseworker")
    add_event(people["ada"], case, "caseworker_assigned", "2023-02-01", {"username": "anna.web"})
    client = app.test_client()
    assert sign_in(client, "anna.web").status_code == 302
    page = text(client.get(f"/cases/{case}"))
    assert "country unknown: applied" in page
    ru = text(client.get(f"/cases/{case}?lang=ru"))
    assert "страна неизвестна: подано" in ru


@pytest.fixture
def version_1() -> Any:
    """Make `monkeypatch` record events as the catalogue of schema version 1 had them."""

    def as_before(monkeypatch: pytest.MonkeyPatch) -> Any:
        monkeypatch.setitem(
            CATALOGUE, "note_added", replace(CATALOGUE["note_added"], schema_version=1,
                                             fields=(Field("text", "text", required=True),))
        )  # fmt: skip
        monkeypatch.setitem(SENSITIVE, "note_added", frozenset())
        asylum = CATALOGUE["asylum_applied"]
        country = Field("country", "country", required=True)
        monkeypatch.setitem(
            CATALOGUE, "asylum_applied",
            replace(asylum, schema_version=1, fields=(country, *asylum.fields[1:])),
        )  # fmt: skip
        pressured = CATALOGUE["relatives_pressured"]
        monkeypatch.setitem(
            CATALOGUE, "relatives_pressured",
            replace(pressured, schema_version=1, fields=(pressured.fields[0], Field("who", "str"))),
        )  # fmt: skip
        monkeypatch.setitem(SENSITIVE, "relatives_pressured", frozenset())

    return as_before


def test_version_1_events_read_through_the_api_and_the_web(app, people, version_1, monkeypatch) -> None:
    anna, otto = people["anna"], people["otto"]
    case = _case(people)
    with monkeypatch.context() as before:
        version_1(before)
        note = add_event(anna, case, "note_added", "2022-10-01", {"text": NOTE})["id"]
        add_event(anna, case, "asylum_applied", "2022-11-01", {"country": "FR", "reference": "OFPRA-1"})
        add_event(anna, case, "relatives_pressured", "2022-10-03", {"kind": "searched", "who": WHO})
        before.undo()
    rt = app.extensions["tracker"]
    with rt.db.read() as session:
        versions = dict(session.execute(sa.select(EventRow.type, EventRow.schema_version)).all())
    assert versions["note_added"] == versions["asylum_applied"] == versions["relatives_pressured"] == 1
    assert CATALOGUE["note_added"].schema_version == 2 and catalogue.SENSITIVE["note_added"]
    # Version 1 kept the note and `who` in clear, and they stay so (docs/security.md) ...
    assert NOTE.encode() in _raw_bytes(app) and WHO.encode() in _raw_bytes(app)
    # ... but auditors never get them, now that the catalogue marks them sensitive.
    seen = {e["type"]: (e["schema_version"], e["data"]) for e in _events(otto, case)}
    assert seen["note_added"] == (1, {})
    assert seen["relatives_pressured"] == (1, {"kind": "searched"})
    assert seen["asylum_applied"] == (1, {"country": "FR"})
    shown = {e["type"]: e["data"] for e in _events(anna, case)}
    assert shown["note_added"] == {"text": NOTE}
    assert shown["relatives_pressured"] == {"kind": "searched", "who": WHO}
    assert shown["asylum_applied"] == {"country": "FR", "reference": "OFPRA-1"}
    (entry,) = anna.get(f"/cases/{case}").get_json()["status"]["asylum"]
    assert (entry["country"], entry["stage"]) == ("FR", "applied")
    # A correction of a version 1 note is recorded under version 2: its new text is sealed.
    fixed = "Mother was questioned twice"
    add_event(
        anna, case, "event_corrected", "2022-10-05",
        {"event_id": note, "data": {"text": fixed}, "reason": "a second visit"},
    )  # fmt: skip
    assert fixed.encode() not in _raw_bytes(app)
    assert _events(otto, case)[-1]["data"] == {"event_id": note, "data": {}, "reason": "a second visit"}
    assert _events(anna, case)[-1]["data"]["data"] == {"text": fixed}
    # The web: the caseworker reads both, the auditor neither, on the case page and the audit view.
    for name, role in (("anna.web", "caseworker"), ("otto.web", "auditor")):
        make_user(app, name, role)
    add_event(people["ada"], case, "caseworker_assigned", "2022-10-05", {"username": "anna.web"})
    for name, shows in (("anna.web", True), ("otto.web", False)):
        client = app.test_client()
        assert sign_in(client, name).status_code == 302
        for path in (f"/cases/{case}", f"/cases/{case}/audit"):
            page = text(client.get(path))
            for secret in (NOTE, WHO, fixed):
                assert (secret in page) == shows, (name, path, secret)
