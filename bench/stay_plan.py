"""How long the stay count and the stay plan take for a case with many border crossings.

    .venv/bin/python bench/stay_plan.py --crossings 500

Generates a history of alternating entries and exits of KZ over the years before today, with a few
permits, and times `count` and `plan` (median and worst of --runs) under Kazakhstan's EAEU rule.
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
    print(f"| {len(crossings)} crossings | median ms | worst ms |")
    print("|---|---|---|")
    for name, (median, worst) in rows:
        print(f"| {name} | {median:.2f} | {worst:.2f} |")


if __name__ == "__main__":
    main()
