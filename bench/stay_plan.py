"""How long the stay count and the stay plan take for a case with many border crossings.

    .venv/bin/python bench/stay_plan.py --crossings 500

Generates a history of alternating entries and exits of KZ over the years before today, with a few
permits, and times `count` and `plan` (median and worst of --runs) under Kazakhstan's EAEU rule;
then stores the same history as one case in a fresh SQLite database and times the whole service
call behind GET /cases/{id}/stay-plan (access check, access log, reading and folding the events).
The target: the plan answers in under 50 ms for 500 crossings (docs/stay.md).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracker.stay.count import Crossing, Limits, Span
from tracker.stay.plan import count, plan


def history(n: int, today: date, seed: int) -> tuple[list[Crossing], list[Span]]:
    rng = random.Random(seed)
    day = today - timedelta(days=n * 12)
    crossings = []
    for i in range(n):
        day += timedelta(days=rng.randint(1, 20))
        crossings.append(Crossing(min(day, today), "KZ", "entered" if i % 2 == 0 else "left"))
    pauses: list[Span] = []
    for _ in range(5):
        first = today - timedelta(days=rng.randint(30, n * 10))
        pauses.append((first, first + timedelta(days=rng.randint(10, 200))))
    return crossings, pauses


def timed(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def service(
    crossings: list[Crossing], pauses: list[Span], today: date, runs: int
) -> list[tuple[str, tuple[float, float]]]:
    import io
    import json
    import os
    import tempfile

    from tracker import create_app
    from tracker.auth.users import Actor
    from tracker.migrate import upgrade
    from tracker.services import reading, stay, transfer

    with tempfile.TemporaryDirectory() as folder:
        os.environ["TRACKER_INSTANCE_PATH"] = folder
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        app = create_app({"DATABASE_URL": url})
        rt = app.extensions["tracker"]
        events = [
            {
                "type": "border_crossed",
                "occurred_on": c.on.isoformat(),
                "data": {"country": c.country, "direction": c.direction},
            }
            for c in crossings
        ] + [
            {
                "type": "stay_permitted",
                "occurred_on": first.isoformat(),
                "data": {
                    "country": "KZ",
                    "kind": "temporary_residence",
                    "valid_from": first.isoformat(),
                    "valid_until": end.isoformat(),
                },
            }
            for first, end in pauses
            if end is not None
        ]
        first_day = min(c.on for c in crossings).isoformat()
        line = {
            "case": {
                "pseudonym": "Bench",
                "citizenship": "RU",
                "category": "other",
                "occurred_on": first_day,
            },
            "events": events,
        }
        transfer.import_file(rt, io.StringIO(json.dumps(line) + "\n"))
        admin = Actor("bench", "admin")
        (case,) = reading.list_cases(rt, admin, reading.CaseFilter(q="Bench"))[0]
        leave, back = today + timedelta(days=10), today + timedelta(days=40)
        stay.stay_plan(rt, admin, case["id"], leave, back)  # warm caches once
        result = [
            (
                "service stay_plan (SQLite)",
                timed(lambda: stay.stay_plan(rt, admin, case["id"], leave, back), runs),
            ),
            (
                "service get_case, status with stay_count (SQLite)",
                timed(lambda: reading.get_case(rt, admin, case["id"]), runs),
            ),
        ]
        rt.db.dispose()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crossings", type=int, default=500)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    today = date.today()
    crossings, pauses = history(args.crossings, today, args.seed)
    crossings.append(Crossing(today - timedelta(days=3), "KZ", "entered"))
    limits = Limits(window_max=90, window_days=180)
    countries = frozenset({"KZ"})
    rows = [
        ("count", timed(lambda: count(crossings, pauses, limits, countries, today), args.runs)),
        (
            "plan",
            timed(
                lambda: plan(
                    crossings,
                    pauses,
                    limits,
                    countries,
                    today,
                    today + timedelta(days=10),
                    today + timedelta(days=40),
                ),
                args.runs,
            ),
        ),
    ]
    rows.extend(service(crossings, pauses, today, args.runs))
    print(f"| {len(crossings)} crossings | median ms | worst ms |")
    print("|---|---|---|")
    for name, (median, worst) in rows:
        print(f"| {name} | {median:.2f} | {worst:.2f} |")


if __name__ == "__main__":
    main()
