"""Concurrent writers and a follower, on every engine: no lost event, no gap, no duplicate, no miss."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from corekit import ADMIN, event, new_case, stored

from tracker.projections.tables import CaseRow
from tracker.services import writing
from tracker.store.events import ConcurrencyError, head, read_all

WRITERS = 8
APPENDS_EACH = 25


def run_threads(targets: list[Any]) -> list[BaseException]:
    """Start every target at once; returns the exceptions the threads raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(targets))

    def wrap(target: Any) -> None:
        try:
            start.wait()
            target()
        except BaseException as exc:  # the main thread reports it
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return errors


def append_with_retry(rt: Any, case_id: str, text: str, conflicts: Counter) -> None:
    """Read the version, append expecting it, and on a conflict read again and retry."""
    while True:
        with rt.db.read() as session:
            version = head(session, case_id)[0]
        try:
            # A contact: its channel is stored in clear, so the test can read the order from the rows.
            writing.record_event(
                rt, ADMIN, case_id, event("contact_made", "2023-01-01", channel=text), version
            )
            return
        except ConcurrencyError:
            conflicts[text] += 1


def test_writers_racing_on_one_case_lose_nothing_and_leave_no_gap(rt: Any) -> None:
    case_id = new_case(rt)
    conflicts: Counter = Counter()

    def writer(n: int) -> Any:
        def run() -> None:
            for i in range(APPENDS_EACH):
                append_with_retry(rt, case_id, f"w{n}-{i}", conflicts)

        return run

    errors = run_threads([writer(n) for n in range(WRITERS)])
    assert not errors, errors
    # The writers did race: some appends met a newer version and had to read again.
    assert sum(conflicts.values()) > 0, "no writer ever met a conflict"
    rows = stored(rt, case_id)
    total = WRITERS * APPENDS_EACH + 1
    assert [r.version for r in rows] == list(range(1, total + 1))
    texts = [r.data for r in rows[1:]]
    assert len(texts) == len(set(texts)) == WRITERS * APPENDS_EACH
    for n in range(WRITERS):
        mine = [t for t in texts if f'"w{n}-' in t]
        # Each writer's own events keep the order it wrote them in.
        assert mine == [f'{{"channel":"w{n}-{i}"}}' for i in range(APPENDS_EACH)]
    # The read model followed every append.
    with rt.db.read() as session:
        assert session.get(CaseRow, case_id).version == total


def test_a_follower_of_positions_misses_nothing_during_concurrent_appends(rt: Any) -> None:
    cases = [new_case(rt, f"Case {i}") for i in range(8)]
    done = threading.Event()
    seen: list[str] = []
    positions: list[int] = []

    follower_errors: list[BaseException] = []

    def follower() -> None:
        after = 0
        try:
            while True:
                finished = done.is_set()
                with rt.db.read() as session:
                    page = [(r.id, r.position) for r in read_all(session, after, limit=50)]
                seen.extend(i for i, _ in page)
                positions.extend(p for _, p in page)
                if page:
                    after = page[-1][1]
                elif finished:
                    return
                time.sleep(0.001)  # a poll, not a spin: the writers need the interpreter too
        except BaseException as exc:  # reported by the test's thread
            follower_errors.append(exc)

    def writer(n: int) -> Any:
        def run() -> None:
            for i in range(20):
                case_id = cases[(n + i) % len(cases)]
                append_with_retry(rt, case_id, f"{n}/{i}", Counter())

        return run

    follow = threading.Thread(target=follower)
    follow.start()
    try:
        errors = run_threads([writer(n) for n in range(6)])
    finally:
        done.set()
        follow.join(timeout=60)
    assert not errors and not follower_errors, errors + follower_errors
    everything = stored(rt)
    assert len(everything) == 8 + 6 * 20
    assert len(seen) == len(set(seen)), "the follower saw an event twice"
    assert positions == sorted(positions)
    assert set(seen) == {r.id for r in everything}, "the follower missed events"
