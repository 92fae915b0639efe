"""A rebuild from the events gives exactly the read models the appends kept up to date, on every engine."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from corekit import ADMIN, new_case, record, table_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.auth.users import create_user
from tracker.services import integrity, reading
from tracker.services.erasure import erase_case

READ_MODELS = {
    "case_status": "case_id",
    "case_assignments": "case_id, username",
    "deadlines": "case_id, key",
    "search_tokens": "case_id, event_id, field, digest",
    "follow_ups": "case_id, id",
}


def read_models(rt: Any) -> dict[str, list[dict[str, Any]]]:
    return {table: table_rows(rt, table, order) for table, order in READ_MODELS.items()}


def story_with_late_facts_and_fixes(rt: Any) -> list[str]:
    """Three cases whose histories arrive out of order and get corrected, retracted, closed and erased."""
    from tracker.auth.users import create_user

    with rt.db.write() as session:
        create_user(session, "anna", "caseworker", "correct-horse-battery-staple")
        create_user(session, "boris", "caseworker", "correct-horse-battery-staple")
        create_user(session, "sam", "supervisor", "correct-horse-battery-staple")

    sparrow = new_case(rt, "Sparrow", "2022-09-25")
    record(rt, sparrow, "caseworker_assigned", "2022-09-26", username="anna")
    record(rt, sparrow, "fled_country", "2022-09-27", from_country="RU", to_country="KZ")
    stay = record(
        rt, sparrow, "stay_permitted", "2022-09-27", country="KZ", kind="visa_free", valid_until="2022-12-26"
    )
    record(rt, sparrow, "stay_extended", "2022-12-01", country="KZ", valid_until="2023-03-26")
    # A late fact: the criminal case was opened before the last events but learned of now.
    criminal = record(rt, sparrow, "criminal_case_opened", "2022-10-10", country="RU", article="338")
    record(rt, sparrow, "charges_changed", "2022-11-01", criminal_case=criminal, article="337")
    record(
        rt, sparrow, "court_hearing_scheduled", "2022-12-20", criminal_case=criminal, hearing_on="2023-02-01"
    )
    record(rt, sparrow, "asylum_applied", "2022-11-15", country="FR")
    record(
        rt,
        sparrow,
        "asylum_decided",
        "2023-01-10",
        country="FR",
        outcome="rejected",
        notified_on="2023-01-12",
    )
    record(rt, sparrow, "check_in_plan_set", "2022-10-01", every_days=14)
    record(rt, sparrow, "contact_made", "2023-01-05")
    record(
        rt, sparrow, "event_corrected", "2023-01-06", event_id=stay, reason="typo",
        data={"country": "KZ", "kind": "registration", "valid_until": "2022-12-30"},
    )  # fmt: skip
    record(rt, sparrow, "caseworker_assigned", "2023-01-07", username="boris")
    record(rt, sparrow, "caseworker_unassigned", "2023-01-08", username="anna")
    call = record(
        rt, sparrow, "follow_up_set", "2023-01-08", title="Call", owner="boris", due_on="2023-01-20"
    )
    scan = record(rt, sparrow, "follow_up_set", "2023-01-08", title="Scan", owner="sam", due_on="2023-01-10")
    record(rt, sparrow, "follow_up_snoozed", "2023-01-09", follow_up=call, until="2023-02-01")
    record(rt, sparrow, "follow_up_reassigned", "2023-01-09", follow_up=scan, owner="boris")
    done = record(rt, sparrow, "follow_up_done", "2023-01-10", follow_up=scan)
    record(rt, sparrow, "follow_up_done", "2023-01-11", follow_up=call)
    record(rt, sparrow, "event_retracted", "2023-01-12", event_id=done, reason="not done yet")

    farhad = new_case(rt, "Farhad", "2022-09-22")
    record(rt, farhad, "fled_country", "2022-09-22", from_country="RU", to_country="KZ")
    detained = record(rt, farhad, "detained", "2023-03-10", country="KZ", place="Almaty airport")
    record(rt, farhad, "released", "2023-03-13")
    record(rt, farhad, "relocated", "2023-04-01", country="KZ", city="Astana", address="somewhere")
    record(rt, farhad, "event_retracted", "2023-04-02", event_id=detained, reason="wrong person")
    record(rt, farhad, "reminder_set", "2023-04-03", title="call back", due_on="2023-05-01")
    keys = [d["key"] for d in reading.case_deadlines(rt, ADMIN, farhad) if d["kind"] == "reminder"]
    record(rt, farhad, "deadline_resolved", "2023-04-04", deadline_key=keys[0], resolution="met")
    record(rt, farhad, "case_closed", "2023-06-01", outcome="resettled")
    record(rt, farhad, "case_reopened", "2023-07-01", reason="back in touch")
    # Another late fact after the reopening.
    record(rt, farhad, "wanted_listed", "2022-12-01", country="RU", scope="interstate")

    sportsmaster = new_case(rt, "Sportsmaster", "2022-10-20")
    record(rt, sportsmaster, "contact_details_changed", "2022-10-21", phone="+7 700 123 4567")
    record(rt, sportsmaster, "risk_assessed", "2022-10-22", level="high")
    erase_case(rt, ADMIN, sportsmaster, "client asked")
    # Life goes on after the erasure: the newest event of the case is not the erasure any more (a note
    # is personal data, which an erased case cannot take).
    record(rt, sportsmaster, "contact_made", "2022-10-23", channel="phone")
    record(rt, sportsmaster, "case_closed", "2022-11-01", outcome="lost_contact")
    return [sparrow, farhad, sportsmaster]


def test_rebuild_reproduces_every_read_model_row(rt: Any) -> None:
    cases = story_with_late_facts_and_fixes(rt)
    before = read_models(rt)
    assert len(before["case_status"]) == 3
    assert {r["username"] for r in before["case_assignments"]} == {"boris"}
    assert len(before["deadlines"]) >= 5
    assert {(r["title"], r["owner"], r["state"]) for r in before["follow_ups"]} == {
        ("Call", "boris", "done"), ("Scan", "boris", "open"),
    }  # fmt: skip
    assert {r["pseudonym"]: bool(r["erased"]) for r in before["case_status"]} == {
        "Sparrow": False, "Farhad": False, "Sportsmaster": True,
    }  # fmt: skip
    answers = [reading.get_case(rt, ADMIN, c) for c in cases]

    assert integrity.rebuild(rt) == 3

    after = read_models(rt)
    for table in READ_MODELS:
        assert len(after[table]) == len(before[table]), f"{table} has other rows after a rebuild"
        for old, new in zip(before[table], after[table], strict=True):
            changed = {k: (old[k], new[k]) for k in old if old[k] != new[k]}
            assert not changed, f"{table} row of case {old['case_id']} differs after a rebuild: {changed}"
    assert [reading.get_case(rt, ADMIN, c) for c in cases] == answers


def test_rebuild_restores_read_models_that_were_lost(rt: Any) -> None:
    story_with_late_facts_and_fixes(rt)
    before = read_models(rt)
    with rt.db.engine.begin() as conn:
        for table in READ_MODELS:
            conn.exec_driver_sql(f"DELETE FROM {table}")
    assert not any(read_models(rt).values())
    integrity.rebuild(rt)
    assert read_models(rt) == before
    # A second rebuild finds nothing to change.
    integrity.rebuild(rt)
    assert read_models(rt) == before


DAYS = [f"2022-{m:02d}-{d:02d}" for m in (9, 10, 11, 12) for d in (1, 15)] + ["2023-01-10", "2023-03-01"]


def fact(type_: str, **fields: Any) -> st.SearchStrategy:
    """An event of one type, each field a strategy or a fixed value."""
    drawn = {k: v if isinstance(v, st.SearchStrategy) else st.just(v) for k, v in fields.items()}
    return st.tuples(st.just(type_), st.fixed_dictionaries(drawn))


ONE = st.sampled_from
FACTS = st.one_of(
    fact("fled_country", from_country="RU", to_country=ONE(["KZ", "AM", "GE"])),
    fact("relocated", country=ONE(["KZ", "AM"]), city=ONE(["Astana", "Yerevan"])),
    fact("stay_permitted", country=ONE(["KZ", "AM"]), kind="visa_free", valid_until=ONE(DAYS)),
    fact("stay_extended", country=ONE(["KZ", "AM"]), valid_until=ONE(DAYS)),
    fact("detained", country="KZ"),
    fact("released"),
    fact("risk_assessed", level=ONE(["low", "high"])),
    fact("contact_made"),
    fact("check_in_plan_set", every_days=st.integers(1, 90)),
    fact("reminder_set", title="call", due_on=ONE(DAYS)),
    fact("criminal_case_opened", country="RU", article="337"),
    fact("asylum_decided", country=ONE(["FR", "DE"]), outcome="rejected"),
    fact("appeal_filed", country=ONE(["FR", "DE"])),
    fact("caseworker_assigned", username=ONE(["anna", "boris"])),
    fact("caseworker_unassigned", username=ONE(["anna", "boris"])),
    fact("case_closed", outcome="other"),
    fact("case_reopened"),
    # Types no deadline rule names: their appends leave the stored deadlines as they are.
    fact("note_added", text="n"),
    fact("threat_reported", kind="calls"),
)
ACTIONS = st.lists(
    st.tuples(st.sampled_from(["fact", "fact", "fact", "correct", "retract"]), FACTS, st.sampled_from(DAYS),
              st.integers(0, 50)),
    min_size=1, max_size=12,
)  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(actions=ACTIONS)
def test_any_story_rebuilds_to_the_same_read_models(sqlite_app: Any, actions: list) -> None:
    from tracker.events.catalogue import ValidationError
    from tracker.projections.case_status import rebuild_cases

    rt = sqlite_app.extensions["tracker"]
    with rt.db.write() as session:
        for name in ("anna", "boris"):
            if session.scalar(sa.text("SELECT count(*) FROM users WHERE username = :n"), {"n": name}) == 0:
                create_user(session, name, "caseworker", "correct-horse-battery-staple")
    case_id = new_case(rt, "Story", "2022-09-01")
    facts: list[tuple[str, str]] = []  # (event id, type) of the facts recorded so far
    for kind, (type_, data), on, pick in actions:
        try:
            if kind == "fact" or not facts:
                facts.append((record(rt, case_id, type_, on, **data), type_))
            elif kind == "retract":
                target = facts[pick % len(facts)][0]
                record(rt, case_id, "event_retracted", on, event_id=target, reason="x")
            elif same := [event_id for event_id, t in facts if t == type_]:
                # A correction replaces the data of an earlier fact of the same type, maybe its date too.
                fix = {"occurred_on": on} if pick % 2 else {}
                record(rt, case_id, "event_corrected", "2023-03-02", event_id=same[pick % len(same)],
                       reason="x", data=data, **fix)  # fmt: skip
        except ValidationError:
            pass  # a rule refused it (closing a closed case, retracting twice ...): nothing stored
    before = {t: [r for r in rows if r["case_id"] == case_id] for t, rows in read_models(rt).items()}
    answer = reading.get_case(rt, ADMIN, case_id)
    with rt.db.write() as session:
        rebuild_cases(session, [case_id], rt.rules)
    after = {t: [r for r in rows if r["case_id"] == case_id] for t, rows in read_models(rt).items()}
    assert after == before
    assert reading.get_case(rt, ADMIN, case_id) == answer


def test_a_fold_stored_by_an_older_state_version_is_refolded_not_continued(rt: Any) -> None:
    from tracker.projections.status import STATE_VERSION

    case = new_case(rt, "Sparrow", "2022-09-25")
    record(rt, case, "stay_permitted", "2022-10-01", country="AM", kind="visa_free", valid_until="2023-01-01")
    # The stored state as the previous layout wrote it: no stay order, an older version.
    with rt.db.write() as session:
        old = json.loads(session.execute(sa.text("SELECT fold FROM case_status")).scalar_one())
        del old["stay_order"]
        old["state_version"] = STATE_VERSION - 1
        session.execute(sa.text("UPDATE case_status SET fold = :f"), {"f": json.dumps(old)})
    # Reading it shows the status of the current layout (the stay of a case with no known country) ...
    assert reading.get_case(rt, ADMIN, case)["status"]["legal_stay"]["country"] == "AM"
    # ... and the next append, a fact after everything folded, refolds instead of continuing.
    record(rt, case, "contact_made", "2022-10-02")
    with rt.db.write() as session:
        stored = json.loads(session.execute(sa.text("SELECT fold FROM case_status")).scalar_one())
    assert stored["state_version"] == STATE_VERSION and stored["stay_order"] == ["AM"]
    assert stored["last_contact_on"] == "2022-10-02"
