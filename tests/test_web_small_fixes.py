"""Smaller fixes of the web pages and the demo script: each test names what a user saw before."""

from __future__ import annotations

from pathlib import Path

from tracker.services.demo import DEMO_USERS

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_hint_names_every_demo_user() -> None:
    hint = next(line for line in (ROOT / "scripts/demo").read_text().splitlines() if line.startswith("echo"))
    for name, role in DEMO_USERS.items():
        assert f"{name} ({role})" in hint, name
