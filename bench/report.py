"""The results as a markdown table, with the machine they were measured on."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import threading
from pathlib import Path

from common import PROJECT_ROOT, Row, Section, fmt


def machine(committed: bool) -> dict[str, str]:
    """Cores, memory, processor, Python and the commit measured."""
    mem = "?"
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "tracker", "migrations", "config", "templates"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if dirty and not committed:
        commit += " with uncommitted changes"
    return {
        "cores (nproc)": str(os.cpu_count()),
        "memory": mem,
        "processor": cpu,
        "python": platform.python_version(),
        "commit": commit or "?",
    }


class LoadSampler:
    """The machine's 1-minute load average, sampled every 5 s while the benchmark runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                self.samples.append(float(Path("/proc/loadavg").read_text().split()[0]))
            self._stop.wait(5)

    def summary(self) -> str:
        self._stop.set()
        if not self.samples:
            return "?"
        mean = sum(self.samples) / len(self.samples)
        return f"mean {mean:.1f}, max {max(self.samples):.1f} on {os.cpu_count()} cores"


def _figure(row: Row, value: float | None) -> str:
    return "-" if value is None else fmt(value)


def _target(row: Row) -> str:
    parts = []
    if row.target is not None:
        parts.append(("≥ " if row.kind == "rate" else "< ") + fmt(row.target))
    if row.floor_ratio_target is not None:
        parts.append(f"≥ {row.floor_ratio_target}x floor")
    if row.not_slower_than_peer:
        parts.append("≥ peer")
    return ", ".join(parts) or "-"


def _verdict(row: Row) -> str:
    if row.na:
        return "n/a"
    if row.tracker is None or _target(row) == "-":
        return "-"
    misses = row.misses()
    return "met" if not misses else "MISS: " + "; ".join(misses)


def table(section: Section, title: str) -> str:
    lines = [
        f"### {title}",
        "",
        "| measure | unit | tracker | peer | raw floor | tracker/floor | target | result |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for row in section.rows:
        tracker = row.na or _figure(row, row.tracker)
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        lines.append(
            f"| {row.name} | {row.unit} | {tracker} | {_figure(row, row.peer)} | {_figure(row, row.floor)} "
            f"| {ratio} | {_target(row)} | {_verdict(row)} |"
        )
    notes = [f"- {row.name}: {row.note}" for row in section.rows if row.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def document(sections: list[tuple[Section, str]], facts: dict[str, str], command: str) -> str:
    head = [
        f"Command: `{command}`",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in facts.items()),
        "",
        "tracker/floor is the tracker's speed over the raw floor's (1.00x = as fast as plain SQL through "
        "the same driver; for latencies: floor time / tracker time). Latencies are in milliseconds.",
    ]
    return "\n".join([*head, "", "\n\n".join(table(s, t) for s, t in sections)]) + "\n"
