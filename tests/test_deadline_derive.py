"""Deadlines derived from a case's events by the default rules of config/deadlines.toml."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from tracker.deadlines.derive import Deadline, derive
from tracker.deadlines.rules import DEFAULT_RULES_PATH, Rules, load_rules
from tracker.events.record import Recorded


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(DEFAULT_RULES_PATH)


class Case:
    """A case's raw event stream, built one event at a time."""

    def __init__(self, rules: Rules, opened_on: str = "2023-01-02") -> None:
        self.rules = rules
        self.events: list[Recorded] = []
        self.add("case_opened", opened_on, pseudonym="Sparrow", citizenship="RU", category="other")

    def add(self, type_: str, on: str, **data: Any) -> Recorded:
        version = len(self.events) + 1
        event = Recorded(
            id=f"e{version}",
            case_id="case-1",
            version=version,
            type=type_,
            occurred_on=date.fromisoformat(on),
            date_precision="day",
            recorded_at=datetime(2024, 1, 1, tzinfo=UTC),
            recorded_by="anna",
            data=data,
        )
        self.events.append(event)
        return event

    def correct(self, target: Recorded, on: str, data: dict[str, Any]) -> Recorded:
        return self.add("event_corrected", on, event_id=target.id, data=data, reason="typo")

    def derive(
        self, kind: str | None = None, as_of: str | None = None, rules: Rules | None = None
    ) -> list[Deadline]:
        day = date.fromisoformat(as_of) if as_of else None
        found = derive(self.events, rules or self.rules, as_of=day)
        return [d for d in found if kind is None or d.kind == kind]

    def one(self, kind: str, **kwargs: Any) -> Deadline:
        found = self.derive(kind, **kwargs)
        assert len(found) == 1, found
        return found[0]


@pytest.fixture
def case(rules: Rules) -> Case:
    return Case(rules)


def states(deadlines: list[Deadline]) -> list[tuple[str, str, str | None]]:
    return [(d.due_on.isoformat(), d.state, d.resolved_by) for d in deadlines]


# --------------------------------------------------------------------------- legal stay, removal


def test_stay_deadline_has_a_key_naming_its_source(case: Case) -> None:
    source = case.add(
        "stay_permitted", "2023-01-20", country="KZ", kind="visa_free", valid_until="2023-04-19"
    )
    d = case.one("stay_expires")
    assert d == Deadline(
        key=f"stay_expires:{source.id}:2023-04-19",
        case_id="case-1",
        kind="stay_expires",
        title="Legal stay in KZ expires",
        due_on=date(2023, 4, 19),
        state="open",
        source_event_id=source.id,
        resolved_by=None,
        lead_days=(30, 14, 7, 3, 1, 0),
    )


def test_stay_extended_supersedes_the_old_key_and_opens_a_new_one(case: Case) -> None:
    first = case.add("stay_permitted", "2023-01-20", country="KZ", kind="visa_free", valid_until="2023-04-19")
    case.add("stay_permitted", "2023-02-01", country="AM", kind="visa_free", valid_until="2023-05-01")
    extension = case.add("stay_extended", "2023-04-10", country="KZ", valid_until="2023-10-10")
    stays = {d.key: d for d in case.derive("stay_expires")}
    old = stays[f"stay_expires:{first.id}:2023-04-19"]
    new = stays[f"stay_expires:{extension.id}:2023-10-10"]
    assert (old.state, old.resolved_by) == ("superseded", extension.id)
    assert (new.state, new.resolved_by) == ("open", None)
    assert [d.state for d in stays.values() if "AM" in d.title] == ["open"]


def test_stay_without_end_date_supersedes_and_stay_ended_resolves(case: Case) -> None:
    case.add("stay_permitted", "2023-01-20", country="KZ", kind="visa_free", valid_until="2023-04-19")
    permanent = case.add("stay_permitted", "2023-03-01", country="KZ", kind="permanent_residence")
    assert states(case.derive("stay_expires")) == [("2023-04-19", "superseded", permanent.id)]
    case.add("stay_extended", "2023-05-01", country="KZ", valid_until="2024-05-01")
    ended = case.add("stay_ended", "2023-06-01", country="KZ", reason="revoked")
    assert states(case.derive("stay_expires"))[-1] == ("2024-05-01", "resolved", ended.id)


def test_leave_by_superseded_by_a_new_order_and_resolved_by_a_stay(case: Case) -> None:
    case.add("removal_ordered", "2023-03-01", country="KZ", leave_by="2023-03-15")
    second = case.add("removal_ordered", "2023-03-05", country="KZ", leave_by="2023-03-10")
    stay = case.add(
        "stay_permitted", "2023-03-08", country="KZ", kind="humanitarian", valid_until="2024-03-08"
    )
    assert states(case.derive("leave_by")) == [
        ("2023-03-10", "resolved", stay.id),
        ("2023-03-15", "superseded", second.id),
    ]
    assert [d.state for d in case.derive("leave_by", as_of="2023-03-07")] == ["open", "superseded"]


# --------------------------------------------------------------------------- documents, hearings, interviews


def test_held_document_expires_and_a_later_record_of_its_kind_supersedes(case: Case) -> None:
    case.add(
        "document_recorded",
        "2023-01-05",
        kind="international_passport",
        status="held",
        valid_until="2025-06-01",
    )
    case.add(
        "document_recorded", "2023-01-05", kind="internal_passport", status="held", valid_until="2030-01-01"
    )
    case.add(
        "document_recorded", "2023-01-05", kind="military_id", status="confiscated", valid_until="2026-01-01"
    )
    lost = case.add("document_recorded", "2023-05-01", kind="international_passport", status="lost")
    docs = case.derive("document_expires")
    assert states(docs) == [("2025-06-01", "superseded", lost.id), ("2030-01-01", "open", None)]
    assert docs[1].title == "Document expires (internal passport)" and docs[1].lead_days == (90, 30, 7)


def test_court_hearing_superseded_per_criminal_case_and_met_by_its_verdict(case: Case) -> None:
    crime = case.add("criminal_case_opened", "2023-01-10", country="RU", article="337")
    other = case.add("criminal_case_opened", "2023-01-11", country="RU", article="338")
    case.add("court_hearing_scheduled", "2023-02-01", criminal_case=crime.id, hearing_on="2023-03-01")
    moved = case.add("court_hearing_scheduled", "2023-02-10", criminal_case=crime.id, hearing_on="2023-04-01")
    case.add("court_hearing_scheduled", "2023-02-11", criminal_case=other.id, hearing_on="2023-05-01")
    verdict = case.add("verdict_issued", "2023-04-01", criminal_case=crime.id, in_absentia=True)
    assert states(case.derive("court_hearing")) == [
        ("2023-03-01", "superseded", moved.id),
        ("2023-04-01", "met", verdict.id),
        ("2023-05-01", "open", None),
    ]
    assert {d.title for d in case.derive("court_hearing")} == {"Court hearing"}


def test_hearing_naming_no_criminal_case(case: Case) -> None:
    case.add("court_hearing_scheduled", "2023-02-01", court="garrison court", hearing_on="2023-03-01")
    later = case.add("court_hearing_scheduled", "2023-02-05", hearing_on="2023-03-02")
    verdict = case.add("verdict_issued", "2023-03-02", criminal_case="e99")
    assert states(case.derive("court_hearing")) == [
        ("2023-03-01", "superseded", later.id),
        ("2023-03-02", "met", verdict.id),
    ]


def test_asylum_interview_superseded_then_met_by_the_decision(case: Case) -> None:
    case.add("asylum_interview_scheduled", "2023-02-01", country="DE", interview_on="2023-03-01")
    moved = case.add("asylum_interview_scheduled", "2023-02-20", country="DE", interview_on="2023-03-20")
    case.add("asylum_interview_scheduled", "2023-02-21", country="FR", interview_on="2023-04-01")
    decided = case.add("asylum_decided", "2023-05-01", country="DE", outcome="granted")
    assert states(case.derive("asylum_interview")) == [
        ("2023-03-01", "superseded", moved.id),
        ("2023-03-20", "met", decided.id),
        ("2023-04-01", "open", None),
    ]


# --------------------------------------------------------------------------- check-ins and reminders


def test_check_in_due_after_the_last_contact(case: Case) -> None:
    plan = case.add("check_in_plan_set", "2023-02-01", every_days=14)
    assert states(case.derive("check_in")) == [("2023-01-16", "open", None)]  # from case_opened
    case.add("contact_made", "2023-03-01", channel="phone")
    case.add("contact_details_changed", "2023-03-10", reason="sim_changed")
    case.add("note_added", "2023-03-20", text="no answer")
    d = case.one("check_in")
    assert (d.key, d.state, d.title, d.lead_days) == (
        f"check_in:{plan.id}:2023-03-24",
        "open",
        "Check-in due",
        (0,),
    )


def test_a_new_check_in_plan_supersedes_the_old_one(case: Case) -> None:
    first = case.add("check_in_plan_set", "2023-02-01", every_days=14)
    case.add("contact_made", "2023-03-01", channel="phone")
    second = case.add("check_in_plan_set", "2023-03-05", every_days=7)
    assert [(d.source_event_id, d.due_on.isoformat(), d.state) for d in case.derive("check_in")] == [
        (second.id, "2023-03-08", "open"),
        (first.id, "2023-03-15", "superseded"),
    ]


def test_reminder_uses_its_own_title_and_date(case: Case) -> None:
    source = case.add(
        "reminder_set", "2023-02-01", title="Call the lawyer about the hearing", due_on="2023-02-20"
    )
    d = case.one("reminder")
    assert (d.key, d.title, d.due_on, d.lead_days) == (
        f"reminder:{source.id}:2023-02-20",
        "Call the lawyer about the hearing",
        date(2023, 2, 20),
        (7, 1, 0),
    )


# --------------------------------------------------------------------------- resolving, closing, as_of


@pytest.mark.parametrize(
    ("resolution", "state"), [("met", "met"), ("moot", "resolved"), ("dismissed", "resolved")]
)
def test_deadline_resolved_names_the_key(case: Case, resolution: str, state: str) -> None:
    case.add("reminder_set", "2023-02-01", title="Buy a SIM card", due_on="2023-02-20")
    case.add("reminder_set", "2023-02-01", title="Other", due_on="2023-02-21")
    key = case.derive("reminder")[0].key
    done = case.add("deadline_resolved", "2023-02-10", deadline_key=key, resolution=resolution)
    assert states(case.derive("reminder")) == [("2023-02-20", state, done.id), ("2023-02-21", "open", None)]


def test_closing_resolves_open_deadlines_and_reopening_brings_them_back(case: Case) -> None:
    case.add("reminder_set", "2023-02-01", title="A", due_on="2023-03-01")
    case.add("reminder_set", "2023-02-01", title="B", due_on="2023-03-02")
    key_b = case.derive("reminder")[1].key
    met = case.add("deadline_resolved", "2023-02-03", deadline_key=key_b, resolution="met")
    closed = case.add("case_closed", "2023-02-10", outcome="resettled")
    case.add("reminder_set", "2023-02-15", title="C", due_on="2023-04-01")
    assert states(case.derive("reminder")) == [
        ("2023-03-01", "resolved", closed.id),
        ("2023-03-02", "met", met.id),
        ("2023-04-01", "resolved", closed.id),
    ]
    case.add("case_reopened", "2023-02-20", reason="back in touch")
    assert [d.state for d in case.derive("reminder")] == ["open", "met", "open"]
    assert [d.state for d in case.derive("reminder", as_of="2023-02-19")] == ["resolved", "met", "resolved"]


def test_as_of_uses_only_what_had_happened(case: Case) -> None:
    first = case.add("stay_permitted", "2023-01-20", country="KZ", kind="visa_free", valid_until="2023-04-19")
    case.add("stay_extended", "2023-04-10", country="KZ", valid_until="2023-10-10")
    then = case.one("stay_expires", as_of="2023-04-09")
    assert (then.source_event_id, then.state) == (first.id, "open")
    assert case.derive(as_of="2023-01-19") == []


# --------------------------------------------------------------------------- corrections


def test_a_correction_moving_the_date_gives_a_new_key_and_supersedes_the_old(case: Case) -> None:
    source = case.add(
        "stay_permitted", "2023-01-20", country="KZ", kind="visa_free", valid_until="2023-04-19"
    )
    fix = case.correct(
        source, "2023-01-25", {"country": "KZ", "kind": "visa_free", "valid_until": "2023-04-20"}
    )
    stays = case.derive("stay_expires")
    assert [(d.key, d.state, d.resolved_by) for d in stays] == [
        (f"stay_expires:{source.id}:2023-04-19", "superseded", fix.id),
        (f"stay_expires:{source.id}:2023-04-20", "open", None),
    ]
    again = case.correct(
        source, "2023-01-26", {"country": "KZ", "kind": "visa_free", "valid_until": "2023-04-21"}
    )
    assert states(case.derive("stay_expires")) == [
        ("2023-04-19", "superseded", fix.id),
        ("2023-04-20", "superseded", again.id),
        ("2023-04-21", "open", None),
    ]


def test_a_correction_of_the_date_an_event_occurred_moves_a_computed_deadline(case: Case) -> None:
    source = case.add("asylum_decided", "2023-01-31", country="FR", outcome="rejected")
    fix = case.add(
        "event_corrected",
        "2023-02-10",
        event_id=source.id,
        data={"country": "FR", "outcome": "rejected"},
        occurred_on="2023-02-01",
        reason="wrong day",
    )
    assert [(d.key, d.state, d.resolved_by) for d in case.derive("asylum_appeal")] == [
        (f"asylum_appeal:{source.id}:2023-02-28", "superseded", fix.id),
        (f"asylum_appeal:{source.id}:2023-03-01", "open", None),
    ]


def test_a_date_corrected_and_back_again_names_the_last_correction(case: Case) -> None:
    source = case.add("reminder_set", "2023-02-01", title="A", due_on="2023-03-01")
    case.correct(source, "2023-02-02", {"title": "A", "due_on": "2023-03-02"})
    case.correct(source, "2023-02-03", {"title": "A", "due_on": "2023-03-01"})
    case.correct(source, "2023-02-04", {"title": "A", "due_on": "2023-03-02"})
    last = case.correct(source, "2023-02-05", {"title": "A", "due_on": "2023-03-01"})
    assert states(case.derive()) == [("2023-03-01", "open", None), ("2023-03-02", "superseded", last.id)]


def test_a_moved_deadline_of_a_closed_case_is_superseded_not_resolved(case: Case) -> None:
    source = case.add("reminder_set", "2023-02-01", title="A", due_on="2023-03-01")
    closed = case.add("case_closed", "2023-02-10", outcome="lost_contact")
    fix = case.correct(source, "2023-02-11", {"title": "A", "due_on": "2023-03-05"})
    assert states(case.derive()) == [
        ("2023-03-01", "superseded", fix.id),
        ("2023-03-05", "resolved", closed.id),
    ]


def test_a_correction_keeping_the_date_keeps_the_key(case: Case) -> None:
    source = case.add(
        "stay_permitted", "2023-01-20", country="KZ", kind="visa_free", valid_until="2023-04-19"
    )
    case.correct(source, "2023-01-25", {"country": "KZ", "kind": "registration", "valid_until": "2023-04-19"})
    assert states(case.derive("stay_expires")) == [("2023-04-19", "open", None)]


def test_a_retracted_source_leaves_its_deadline_superseded(case: Case) -> None:
    source = case.add("reminder_set", "2023-02-01", title="A", due_on="2023-03-01")
    retraction = case.add("event_retracted", "2023-02-02", event_id=source.id, reason="wrong case")
    assert states(case.derive()) == [("2023-03-01", "superseded", retraction.id)]


def test_a_retracted_closer_reopens(case: Case) -> None:
    case.add("asylum_decided", "2023-06-01", country="FR", outcome="rejected", notified_on="2023-06-05")
    filed = case.add("appeal_filed", "2023-06-20", country="FR", body="CNDA")
    assert case.one("asylum_appeal").state == "met"
    case.add("event_retracted", "2023-06-21", event_id=filed.id, reason="not filed after all")
    assert states(case.derive("asylum_appeal")) == [("2023-07-05", "open", None)]


def test_examples_derive_without_personal_data_in_titles(case: Case) -> None:
    case.add("stay_permitted", "2023-01-20", country="KZ", kind="visa_free", valid_until="2023-04-19")
    case.add("asylum_decided", "2023-06-01", country="FR", outcome="rejected", notified_on="2023-06-05")
    case.add("fled_country", "2023-07-01", from_country="KZ", to_country="US")
    titles = {d.kind: d.title for d in case.derive()}
    assert titles == {
        "stay_expires": "Legal stay in KZ expires",
        "asylum_appeal": "Appeal against the FR asylum decision (CNDA)",
        "asylum_filing_window": "Asylum filing window in US closes",
        "stay_unknown": "Establish the legal stay in US",
    }
    assert all("Sparrow" not in title for title in titles.values())


def test_arriving_where_no_stay_is_known_asks_to_establish_it(case: Case) -> None:
    def unknown() -> list[tuple[str, str, str]]:
        return [(d.title, d.due_on.isoformat(), d.state) for d in case.derive() if d.kind == "stay_unknown"]

    case.add("fled_country", "2023-01-10", from_country="RU", to_country="KZ")
    assert unknown() == [("Establish the legal stay in KZ", "2023-01-15", "open")]
    # Establishing it meets the deadline.
    case.add("stay_permitted", "2023-01-12", country="KZ", kind="visa_free", valid_until="2023-04-10")
    assert unknown() == [("Establish the legal stay in KZ", "2023-01-15", "met")]
    # Crossing into Kyrgyzstan, where nothing is known, and back to Kazakhstan while the stay there runs.
    case.add("border_crossed", "2023-02-01", country="KZ", direction="left")
    case.add("border_crossed", "2023-02-01", country="KG", direction="entered")
    case.add("border_crossed", "2023-02-03", country="KG", direction="left")
    case.add("border_crossed", "2023-02-03", country="KZ", direction="entered")
    assert unknown()[1:] == [("Establish the legal stay in KG", "2023-02-06", "resolved")]
    # A move within the country is no arrival; a stay that ran out is no stay.
    case.add("relocated", "2023-03-01", country="KZ", city="Astana")
    assert len(unknown()) == 2
    case.add("border_crossed", "2023-05-01", country="KZ", direction="left")
    case.add("border_crossed", "2023-05-20", country="KZ", direction="entered")
    assert unknown()[2:] == [("Establish the legal stay in KZ", "2023-05-25", "open")]
