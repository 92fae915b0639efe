"""The case list (filters, cursor paging), status as of a date, corrections and retractions via the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import add_event, open_case


@pytest.fixture
def api_app(sqlite_app: Any) -> Any:
    sqlite_app.extensions["tracker"].clock = lambda: datetime(2023, 6, 1, 12, 0, tzinfo=UTC)
    return sqlite_app


@pytest.fixture
def admin(api_app: Any, api_for: Any) -> Any:
    return api_for(api_app, "admin")


def listed(api: Any, **params: Any) -> list[str]:
    r = api.get("/cases", **params)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"cases", "next_cursor"}
    return [c["pseudonym"] for c in body["cases"]]


def status(api: Any, case_id: str, **params: Any) -> dict[str, Any]:
    r = api.get(f"/cases/{case_id}", **params)
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json()["status"])


def test_filters_of_the_case_list(api_app: Any, api_for: Any, admin: Any) -> None:
    anna = api_for(api_app, "caseworker", "anna")
    boris = api_for(api_app, "caseworker", "boris")
    sparrow = open_case(anna, "Sparrow")
    farhad = open_case(admin, "Farhad")
    sports = open_case(boris, "Sportsmaster")
    open_case(admin, "Yevgeny")
    add_event(admin, sparrow, "fled_country", "2022-09-27", {"from_country": "RU", "to_country": "KZ"})
    add_event(admin, farhad, "fled_country", "2022-09-22", {"from_country": "RU", "to_country": "AM"})
    add_event(admin, farhad, "case_closed", "2023-05-01", {"outcome": "resettled"})
    add_event(admin, sports, "reminder_set", "2023-05-01", {"title": "soon", "due_on": "2023-06-05"})
    add_event(admin, sparrow, "reminder_set", "2023-05-01", {"title": "later", "due_on": "2023-09-01"})
    add_event(admin, farhad, "caseworker_assigned", "2023-05-02", {"username": "anna"})

    assert listed(admin) == ["Farhad", "Sparrow", "Sportsmaster", "Yevgeny"]
    assert listed(admin, q="SP") == ["Sparrow", "Sportsmaster"]
    assert listed(admin, q="arr") == ["Sparrow"]
    assert listed(admin, q="%") == []
    assert listed(admin, status="closed") == ["Farhad"]
    assert listed(admin, status="open") == ["Sparrow", "Sportsmaster", "Yevgeny"]
    assert listed(admin, country="KZ") == ["Sparrow"]
    assert listed(admin, country="KZ", status="closed") == []
    assert listed(admin, assigned="anna") == ["Farhad", "Sparrow"]
    assert listed(admin, assigned="boris") == ["Sportsmaster"]
    assert listed(admin, assigned="me") == []
    assert listed(anna, assigned="me") == ["Farhad", "Sparrow"]
    assert listed(anna) == ["Farhad", "Sparrow"]
    # A caseworker asking for someone else's cases still only gets the ones they may see.
    assert listed(anna, assigned="boris") == []
    # Sparrow is in KZ since 2022-09-27 with no permit: his stay_limit deadline is overdue.
    assert listed(admin, deadline_within=10) == ["Sparrow", "Sportsmaster"]
    assert listed(admin, deadline_within=200) == ["Sparrow", "Sportsmaster"]
    assert listed(admin, deadline_within=0) == ["Sparrow"]

    summary = {c["pseudonym"]: c for c in admin.get("/cases").get_json()["cases"]}["Sportsmaster"]
    assert summary["id"] == sports and summary["state"] == "open"
    assert summary["caseworkers"] == ["boris"]
    assert summary["next_due_on"] == "2023-06-05"


def test_cursor_paging_visits_every_case_once(admin: Any) -> None:
    names = ["Gamma", "alpha", "Delta", "beta", "Epsilon", "zeta", "Eta"]
    for name in names:
        open_case(admin, name)
    open_case(admin, "Beta")  # same key as "beta" but another case: the id breaks the tie
    pages: list[list[str]] = []
    cursor = None
    while True:
        body = admin.get("/cases", limit=3, **({"cursor": cursor} if cursor else {})).get_json()
        pages.append([c["pseudonym"] for c in body["cases"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 10
    assert [len(p) for p in pages] == [3, 3, 2]
    seen = [n for page in pages for n in page]
    assert sorted(seen) == sorted([*names, "Beta"])
    assert [n.casefold() for n in seen] == sorted(n.casefold() for n in seen)
    # Filters hold across pages.
    first = admin.get("/cases", q="e", limit=2).get_json()
    second = admin.get("/cases", q="e", limit=2, cursor=first["next_cursor"]).get_json()
    together = [c["pseudonym"] for c in first["cases"] + second["cases"]]
    assert all("e" in n.casefold() for n in together) and len(set(together)) == 4


def test_status_as_of_a_date_replays_the_events_up_to_it(admin: Any) -> None:
    case_id = open_case(admin, occurred_on="2022-09-25")
    add_event(admin, case_id, "fled_country", "2022-09-27", {"from_country": "RU", "to_country": "KZ"})
    add_event(
        admin, case_id, "stay_permitted", "2022-09-27",
        {"country": "KZ", "kind": "visa_free", "valid_until": "2022-12-26"},
    )  # fmt: skip
    add_event(admin, case_id, "relocated", "2023-02-01", {"country": "KZ", "city": "Astana"})
    # A late fact: learned now, happened in the past.
    add_event(admin, case_id, "detained", "2022-10-05", {"country": "KZ"})
    add_event(admin, case_id, "released", "2022-10-08", {})

    before = status(admin, case_id, as_of="2022-09-26")
    assert (before["country"], before["state"], before["opened_on"]) == (None, "open", "2022-09-25")
    early = status(admin, case_id, as_of="2022-10-06")
    assert (early["country"], early["city"], early["detained"], early["detained_since"]) == (
        "KZ", None, True, "2022-10-05",
    )  # fmt: skip
    assert early["legal_stay"]["days_left"] == 81  # counted from the as_of date
    late = status(admin, case_id, as_of="2023-03-01")
    assert (late["city"], late["detained"]) == ("Astana", False)
    # Before the case was opened nothing was known yet, but the status still says whom it is about.
    unborn = status(admin, case_id, as_of="2022-01-01")
    assert (unborn["pseudonym"], unborn["state"], unborn["opened_on"]) == ("Sparrow", None, None)
    now = status(admin, case_id)
    assert now == {**late, "legal_stay": now["legal_stay"], "stay_count": now["stay_count"]}
    assert (
        status(admin, case_id)["legal_stay"]["days_left"]
        == (datetime(2022, 12, 26) - datetime(2023, 6, 1)).days
    )


def test_corrections_and_retractions_change_the_status(admin: Any) -> None:
    case_id = open_case(admin, occurred_on="2022-09-25")
    fled = add_event(admin, case_id, "fled_country", "2022-09-27", {"from_country": "RU", "to_country": "KZ"})
    risk = add_event(admin, case_id, "risk_assessed", "2022-10-01", {"level": "high"})
    assert status(admin, case_id)["country"] == "KZ"

    add_event(
        admin, case_id, "event_corrected", "2023-05-01",
        {"event_id": fled["id"], "reason": "it was Armenia",
         "data": {"from_country": "RU", "to_country": "AM"}},
    )  # fmt: skip
    assert status(admin, case_id)["country"] == "AM"
    # A correction acts on the record whatever its own date: as of before it, the fact reads corrected.
    assert status(admin, case_id, as_of="2022-10-01")["country"] == "AM"

    add_event(
        admin, case_id, "event_corrected", "2023-05-02",
        {"event_id": fled["id"], "reason": "wrong date", "occurred_on": "2022-11-01",
         "data": {"from_country": "RU", "to_country": "AM"}},
    )  # fmt: skip
    assert status(admin, case_id, as_of="2022-10-01")["country"] is None
    assert status(admin, case_id)["in_country_since"] == "2022-11-01"

    add_event(admin, case_id, "event_retracted", "2023-05-03", {"event_id": risk["id"], "reason": "mixup"})
    add_event(admin, case_id, "event_retracted", "2023-05-03", {"event_id": fled["id"], "reason": "never"})
    after = status(admin, case_id)
    assert (after["country"], after["risk_level"]) == (None, None)
    # The history keeps everything: the facts and the events that corrected and retracted them.
    types = [e["type"] for e in admin.get(f"/cases/{case_id}/events").get_json()["events"]]
    assert types == [
        "case_opened", "fled_country", "risk_assessed", "event_corrected", "event_corrected",
        "event_retracted", "event_retracted",
    ]  # fmt: skip
    again = {"event_id": fled["id"], "reason": "twice"}
    r = admin.post(f"/cases/{case_id}/events", {"type": "event_retracted", "occurred_on": "2023-05-04",
                                                  "data": again})  # fmt: skip
    assert r.status_code == 422 and "event_id" in r.get_json()["fields"]


def test_a_correction_cannot_point_a_reference_at_another_case(admin: Any) -> None:
    case_id = open_case(admin)
    criminal = add_event(
        admin, case_id, "criminal_case_opened", "2022-10-01", {"country": "RU", "article": "337"}
    )
    charges = add_event(
        admin, case_id, "charges_changed", "2022-10-05", {"criminal_case": criminal["id"], "article": "338"}
    )
    elsewhere = open_case(admin, "Other")
    foreign = add_event(
        admin, elsewhere, "criminal_case_opened", "2022-10-01", {"country": "RU", "article": "1"}
    )
    body = {
        "type": "event_corrected",
        "occurred_on": "2023-01-01",
        "data": {"event_id": charges["id"], "reason": "x",
                 "data": {"criminal_case": foreign["id"], "article": "339"}},
    }  # fmt: skip
    r = admin.post(f"/cases/{case_id}/events", body)
    assert r.status_code == 422, r.get_json()
    assert "data.criminal_case" in r.get_json()["fields"]
    assert admin.get(f"/cases/{case_id}").get_json()["version"] == 3


def test_closing_and_reopening(admin: Any) -> None:
    case_id = open_case(admin)
    add_event(admin, case_id, "reminder_set", "2023-05-01", {"title": "x", "due_on": "2023-06-05"})
    add_event(admin, case_id, "case_closed", "2023-05-02", {"outcome": "lost_contact"})
    closed = status(admin, case_id)
    assert (closed["state"], closed["closed_outcome"]) == ("closed", "lost_contact")
    assert admin.get("/deadlines").get_json()["deadlines"] == []
    r = admin.post(f"/cases/{case_id}/events", {"type": "case_closed", "occurred_on": "2023-05-03",
                                                  "data": {"outcome": "other"}})  # fmt: skip
    assert r.status_code == 422
    add_event(admin, case_id, "case_reopened", "2023-05-04", {"reason": "called again"})
    assert status(admin, case_id)["state"] == "open"
    assert len(admin.get("/deadlines").get_json()["deadlines"]) == 1


def test_paging_is_complete_whatever_the_collation(app: Any, api_for: Any) -> None:
    admin = api_for(app, "admin")
    names = ["a b", "ab", "a-c", "Ärger", "Zed", "zed", "Юрий", "юра", "_x", "%y", "10", "9"]
    for name in names:
        open_case(admin, name)
    seen: list[str] = []
    cursor = None
    for _ in range(len(names)):
        body = admin.get("/cases", limit=2, **({"cursor": cursor} if cursor else {})).get_json()
        seen += [c["pseudonym"] for c in body["cases"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(names)
    assert seen == listed(admin, limit=100)


def test_a_pseudonym_that_case_folding_lengthens_is_stored_and_found(app: Any, api_for: Any) -> None:
    admin = api_for(app, "admin")
    for name in ("ß" * 200, "İ" * 200, "ﬃ" * 200):
        case_id = open_case(admin, name)
        assert admin.get(f"/cases/{case_id}").get_json()["status"]["pseudonym"] == name
    assert len(admin.get("/cases", q="ss").get_json()["cases"]) == 1
