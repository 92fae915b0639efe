"""Stay rules: defaults/stay.toml (and an organization's file layered over it) as typed, validated data."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

from tracker.config import ConfigError, display_path, read_rules_toml
from tracker.events.catalogue import CATALOGUE
from tracker.events.countries import is_country_code
from tracker.resources import DEFAULTS
from tracker.stay.count import Limits

DEFAULT_STAY_RULES_PATH = DEFAULTS / "stay.toml"
STAY_KINDS = CATALOGUE["stay_permitted"].field("kind").choices
#: The citizenship group of everyone a host lets in without a visa and no more specific rule names.
VISA_FREE = "visa_free"
_RULE_KEYS = (
    "host", "citizens", "stay_kind", "window", "max_per_stay", "yearly", "paused_by", "source",
    "checked", "note",
)  # fmt: skip
_WINDOW = re.compile(r"\s*([0-9]+)\s+in\s+([0-9]+)\s*")


class StayRuleError(ConfigError, ValueError):
    """A stay rules file that cannot be used; the message is one line naming the file and entry."""


@dataclass(frozen=True, slots=True)
class StayRule:
    """How one host country (or area) counts the stay of one group of citizens."""

    host: str
    countries: frozenset[str]
    citizens: str | tuple[str, ...]
    citizen_codes: frozenset[str] | None  # None: visa_free, anyone no other rule of the host names
    stay_kind: str
    limits: Limits
    paused_by: frozenset[str]
    source: str
    checked: date
    note: str = ""

    @property
    def label(self) -> str:
        """A short English description, e.g. "KZ, EAEU: 90 days in 180"."""
        lim, parts = self.limits, []
        if lim.max_per_stay is not None:
            parts.append(f"{lim.max_per_stay} days from entry")
        if lim.window_max is not None:
            parts.append(f"{lim.window_max} days in {lim.window_days}")
        if lim.yearly is not None:
            parts.append(f"{lim.yearly} days a calendar year")
        who = self.citizens if isinstance(self.citizens, str) else ", ".join(self.citizens)
        return f"{self.host}, {who}: " + "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        lim = self.limits
        return {
            "host": self.host,
            "citizens": self.citizens if isinstance(self.citizens, str) else list(self.citizens),
            "label": self.label,
            "window": [lim.window_max, lim.window_days] if lim.window_max is not None else None,
            "max_per_stay": lim.max_per_stay,
            "yearly": lim.yearly,
            "paused_by": sorted(self.paused_by),
            "source": self.source,
            "checked": self.checked.isoformat(),
        }


@dataclass(frozen=True)
class StayRules:
    """Every stay rule of the installation."""

    rules: tuple[StayRule, ...] = ()
    groups: dict[str, frozenset[str]] = field(default_factory=dict)
    areas: dict[str, frozenset[str]] = field(default_factory=dict)

    def rule_for(
        self, country: str | None, citizenship: str | None, kind: str = VISA_FREE
    ) -> StayRule | None:
        """The rule counting a stay of `kind` in `country` for a citizen of `citizenship`: one naming
        the citizenship first, else the host's visa_free rule; a rule of the country itself before
        one of an area it belongs to."""
        if country is None or citizenship == country:
            return None
        hosts = [r for r in self.rules if r.stay_kind == kind and country in r.countries]
        hosts.sort(key=lambda r: r.host != country)
        named = [r for r in hosts if r.citizen_codes is not None and citizenship in r.citizen_codes]
        anyone = [r for r in hosts if r.citizen_codes is None and citizenship not in r.countries]
        found = named or anyone
        return found[0] if found else None


def load_stay_rules(paths: str | Path | Sequence[str | Path]) -> StayRules:
    """Read and validate stay rules files, each later one layered over the ones before it."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    groups: dict[str, frozenset[str]] = {}
    areas: dict[str, frozenset[str]] = {}
    raw: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}
    for path in map(Path, paths):
        src, doc = display_path(path), read_rules_toml(path, StayRuleError, "stay rules file")
        for key in doc:
            if key not in ("groups", "areas", "rules"):
                _fail(src, f"unknown section {key!r} (expected one of: groups, areas, rules)")
        groups.update(_code_lists(doc.get("groups", {}), f"{src}: groups"))
        areas.update(_code_lists(doc.get("areas", {}), f"{src}: areas"))
        entries = doc.get("rules", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            _fail(f"{src}: rules", "must be a list of [[rules]] entries")
        for i, entry in enumerate(entries, 1):
            host = entry.get("host")
            where = f"{src}: rules[{i}]" + (f" ({host})" if isinstance(host, str) else "")
            for key in entry:
                if key not in _RULE_KEYS:
                    _fail(where, f"unknown key {key!r} (expected one of: {', '.join(_RULE_KEYS)})")
            citizens = entry.get("citizens")
            group = tuple(sorted(map(str, citizens))) if isinstance(citizens, list) else citizens
            same = (host, group, entry.get("stay_kind", VISA_FREE))
            # A later file's rule for the same host, citizens and kind replaces the earlier one.
            raw[same] = (where, entry)
    rules = tuple(_rule(entry, where, groups, areas) for where, entry in raw.values())
    return StayRules(rules=rules, groups=groups, areas=areas)


@lru_cache(maxsize=1)
def default_stay_rules() -> StayRules:
    """The rules of defaults/stay.toml alone."""
    return load_stay_rules(DEFAULT_STAY_RULES_PATH)


def _rule(
    entry: dict[str, Any], where: str, groups: dict[str, frozenset[str]], areas: dict[str, frozenset[str]]
) -> StayRule:
    missing = [k for k in ("host", "citizens", "source", "checked") if k not in entry]
    if missing:
        _fail(where, f"missing {', '.join(missing)}")
    host = entry["host"]
    if host in areas:
        countries = areas[host]
    elif is_country_code(host):
        countries = frozenset({host})
    else:
        _fail(where, f"host must be a country code in capitals or an area of [areas], not {host!r}")
    citizens, codes = _citizens(entry["citizens"], where, groups)
    kind = entry.get("stay_kind", VISA_FREE)
    if kind not in STAY_KINDS:
        _fail(where, f"stay_kind must be one of {', '.join(STAY_KINDS)}, not {kind!r}")
    window_max = window_days = None
    if "window" in entry:
        match = _WINDOW.fullmatch(entry["window"]) if isinstance(entry["window"], str) else None
        if match is None:
            _fail(where, f'window must be written like "90 in 180", not {entry["window"]!r}')
        window_max, window_days = int(match[1]), int(match[2])
        if not 1 <= window_max <= window_days <= 3660:
            _fail(where, f"window {entry['window']!r} must have 1 <= days <= period <= 3660")
    limits = Limits(
        window_max=window_max,
        window_days=window_days,
        max_per_stay=_days(entry, "max_per_stay", where),
        yearly=_days(entry, "yearly", where, most=366),
    )
    if not limits.any:
        _fail(where, "needs at least one limit: window, max_per_stay or yearly")
    paused = entry.get("paused_by", [])
    if not isinstance(paused, list) or any(p not in STAY_KINDS for p in paused):
        _fail(where, f"paused_by must be a list of stay kinds ({', '.join(STAY_KINDS)}), not {paused!r}")
    for key in ("source", "note"):
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
            _fail(where, f"{key} must be a non-empty text")
    checked = entry["checked"]
    if isinstance(checked, datetime) or not isinstance(checked, date):
        _fail(where, f"checked must be a date written YYYY-MM-DD (no quotes), not {checked!r}")
    return StayRule(
        host=host,
        countries=countries,
        citizens=citizens,
        citizen_codes=codes,
        stay_kind=kind,
        limits=limits,
        paused_by=frozenset(paused),
        source=entry["source"],
        checked=checked,
        note=entry.get("note", ""),
    )


def _citizens(
    value: Any, where: str, groups: dict[str, frozenset[str]]
) -> tuple[str | tuple[str, ...], frozenset[str] | None]:
    if value == VISA_FREE:
        return value, None
    if isinstance(value, str) and value in groups:
        return value, groups[value]
    if isinstance(value, list) and value and all(is_country_code(v) for v in value):
        return tuple(value), frozenset(value)
    _fail(where, f"citizens must be visa_free, a group of [groups] or a list of country codes, not {value!r}")


def _days(entry: dict[str, Any], key: str, where: str, most: int = 3660) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
        _fail(where, f"{key} must be a whole number of days from 1 to {most}, not {value!r}")
    return value


def _code_lists(table: Any, where: str) -> dict[str, frozenset[str]]:
    if not isinstance(table, dict):
        _fail(where, "must be a table of names and lists of country codes")
    out = {}
    for name, codes in table.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]+", name) or is_country_code(name) or name == VISA_FREE:
            _fail(
                f"{where}.{name}", "a name is letters, digits and _, and neither a country code nor visa_free"
            )
        if not isinstance(codes, list) or not codes or not all(is_country_code(c) for c in codes):
            _fail(f"{where}.{name}", f"must be a list of country codes in capitals, not {codes!r}")
        out[name] = frozenset(codes)
    return out


def _fail(where: str, problem: str) -> NoReturn:
    raise StayRuleError(f"{where}: {problem}")
