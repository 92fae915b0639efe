"""requirements/lock.txt: the exact versions the suite passed with, and what scripts/setup installs."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def pins() -> dict[str, str]:
    lines = (ROOT / "requirements" / "lock.txt").read_text().splitlines()
    found = {canonicalize_name(m[1]): m[2] for m in map(PIN.match, lines) if m}
    assert found, "the lock file pins nothing"
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [
        *project["dependencies"],
        *(r for extra in project["optional-dependencies"].values() for r in extra),
    ]
    return [r for r in map(Requirement, wanted) if canonicalize_name(r.name) != "tracker"]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    locked = pins()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in requirements/lock.txt (run scripts/lock)"
        assert requirement.specifier.contains(locked[name], prereleases=True), (requirement, locked[name])


def test_the_environment_holds_exactly_the_locked_versions() -> None:
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    for name, version in pins().items():
        assert installed.get(name) == version, f"{name}: locked {version}, installed {installed.get(name)}"
    extra = set(installed) - set(pins()) - {"tracker", "pip", "setuptools", "wheel"}
    assert not extra, f"installed but not locked: {sorted(extra)}"
