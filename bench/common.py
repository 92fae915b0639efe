"""What every benchmark module shares: the result row, timing statistics, progress on stderr."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"

#: How a figure compares with its target: rates must reach it, times must stay under it.
RATE, TIME = "rate", "time"


@dataclass
class Row:
    """One line of the results table; every figure in the row's unit, None when not measured."""

    name: str
    unit: str
    kind: str  # RATE or TIME
    tracker: float | None = None
    floor: float | None = None
    peer: float | None = None
    target: float | None = None
    floor_ratio_target: float | None = None  # e.g. 0.5: tracker must reach half the floor's speed
    not_slower_than_peer: bool = False
    note: str = ""
    na: str = ""  # why the row could not be measured ("n/a: ...")

    @property
    def ratio(self) -> float | None:
        """Tracker speed / floor speed: 1.0 is as fast as the floor (for times: floor time / tracker time)."""
        if not self.tracker or not self.floor:
            return None
        return self.tracker / self.floor if self.kind == RATE else self.floor / self.tracker

    def misses(self) -> list[str]:
        """Each target this row misses, with by how much."""
        if self.tracker is None:
            return []
        out: list[str] = []
        if self.target is not None:
            if self.kind == RATE and self.tracker < self.target:
                out.append(f"{self.tracker / self.target:.2f}x of the {fmt(self.target)} {self.unit} target")
            if self.kind == TIME and self.tracker > self.target:
                out.append(f"{self.tracker / self.target:.1f}x the {fmt(self.target)} {self.unit} limit")
        ratio = self.ratio
        if self.floor_ratio_target is not None and ratio is not None and ratio < self.floor_ratio_target:
            out.append(f"{ratio:.2f}x the floor (target {self.floor_ratio_target}x)")
        if self.not_slower_than_peer and self.peer:
            slower = self.tracker < self.peer if self.kind == RATE else self.tracker > self.peer
            if slower:
                rel = self.tracker / self.peer if self.kind == RATE else self.peer / self.tracker
                out.append(f"{rel:.2f}x the peer's speed")
        return out


@dataclass
class Section:
    """The rows measured on one engine, and facts about the run."""

    engine: str
    version: str = ""
    cases: int = 0
    events: int = 0
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        log(
            f"  {row.name}: tracker {fmt(row.tracker)} floor {fmt(row.floor)} peer {fmt(row.peer)} {row.unit}"
        )
        return row


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0..100) of the samples, by nearest rank on the sorted list."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass
class Timings:
    """Latencies in seconds of repeated calls, and the wall time they took together."""

    samples: list[float]
    wall: float

    @property
    def p50_ms(self) -> float:
        return percentile(self.samples, 50) * 1000

    @property
    def p95_ms(self) -> float:
        return percentile(self.samples, 95) * 1000

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.samples) * 1000

    @property
    def per_second(self) -> float:
        return len(self.samples) / self.wall if self.wall else 0.0


def repeat(call: Callable[[int], object], count: int, seconds: float = 60.0) -> Timings:
    """Time `call(i)` for i in 0..count-1, stopping early after `seconds`."""
    samples: list[float] = []
    start = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - t0)
        if t0 - start > seconds:
            break
    return Timings(samples, time.perf_counter() - start)
