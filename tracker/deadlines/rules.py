"""Deadline rules: tracker/defaults/deadlines.toml (and files layered over it) as typed, validated data."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, NoReturn

from tracker.config import ConfigError, display_path, read_rules_toml
from tracker.deadlines.calendar import Period, parse_period
from tracker.events.catalogue import CATALOGUE, Field
from tracker.events.countries import is_country_code
from tracker.events.record import CORRECTION_TYPES
from tracker.resources import DEFAULTS
from tracker.stay.history import STAY_TYPES
from tracker.stay.rules import StayRules, default_stay_rules

DEFAULT_RULES_PATH = DEFAULTS / "deadlines.toml"

STAY_COUNT = "stay_count"
#: Arrival in a country where no legal stay is known: the stay is to be established within `period`.
STAY_UNKNOWN = "stay_unknown"
DUE_RULES = ("appeal_period", "arrival_window", "after_last_contact", STAY_COUNT, STAY_UNKNOWN)
#: The events that can be an arrival for `stay_unknown` (border_crossed only when it enters).
ARRIVALS = frozenset({"fled_country", "relocated", "border_crossed"})
TITLE_FIELDS = ("country", "kind", "title", "body", "every_days")
# Types the fold itself handles (or that state no fact): a rule cannot name them.
_BUILT_IN = frozenset(
    {"deadline_resolved", "case_closed", "case_reopened", "personal_data_erased", *CORRECTION_TYPES}
)
#: The fields a rule may name, per event type: deadline data never holds the sensitive ones.
EVENT_FIELDS: dict[str, dict[str, Field]] = {
    name: {f.name: f for f in t.fields if not f.sensitive}
    for name, t in CATALOGUE.items()
    if name not in _BUILT_IN
}
PROCEDURES = CATALOGUE["asylum_decided"].field("procedure").choices
OUTCOMES = CATALOGUE["asylum_decided"].field("outcome").choices
#: What an arrival looks like to the `arrival_window` rule, whichever event type it came from.
ARRIVAL_FIELDS = frozenset({"country"})


class RuleError(ConfigError, ValueError):
    """A rules file that cannot be used; the message is one line naming the file and entry.

    A configuration error, so that the command line shows it as that one line and exits non-zero.
    """


@dataclass(frozen=True, slots=True)
class AppealPeriod:
    """The period for appealing an asylum decision in one country (`*`: any other country)."""

    country: str
    period: Period
    source: str
    body: str = "appeal body"
    procedure: frozenset[str] = frozenset()
    outcome: frozenset[str] = frozenset()
    roll_weekend: bool = False

    @property
    def conditions(self) -> int:
        return bool(self.procedure) + bool(self.outcome)

    def fits(self, procedure: str | None, outcome: str | None) -> bool:
        """Whether a decision taken in `procedure` with `outcome` falls under this entry."""
        return (not self.procedure or procedure in self.procedure) and (
            not self.outcome or outcome in self.outcome
        )


@dataclass(frozen=True, slots=True)
class FilingWindow:
    """How long after the last arrival in a country asylum may be applied for there."""

    period: Period
    source: str
    roll_weekend: bool = False


@dataclass(frozen=True, slots=True)
class KindRule:
    """One kind of deadline: what creates it, how it falls due, what ends it, when it alerts."""

    kind: str
    title: str
    sources: frozenset[str]
    lead_days: tuple[int, ...]
    due_field: str | None = None
    due_rule: str | None = None
    when: tuple[tuple[str, frozenset[str]], ...] = ()
    same: tuple[str, ...] = ()
    superseded_by: frozenset[str] = frozenset()
    met_by: frozenset[str] = frozenset()
    resolved_by: frozenset[str] = frozenset()
    contacts: frozenset[str] = frozenset()
    #: For due_rule stay_unknown: how long after the arrival the stay is to be established.
    period: Period | None = None


@dataclass(frozen=True, eq=False)
class Rules:
    """Every deadline rule of the installation, as loaded from the rules files."""

    kind_rules: Mapping[str, KindRule]
    appeal_periods: tuple[AppealPeriod, ...] = ()
    filing_windows: Mapping[str, FilingWindow] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    country_holidays: Mapping[str, frozenset[date]] = field(default_factory=dict)
    #: The stay rules (defaults/stay.toml and STAY_RULES), for the stay count and its deadline.
    stay: StayRules = field(default_factory=default_stay_rules)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.kind_rules)

    @cached_property
    def event_types(self) -> frozenset[str]:
        """The event types that can change a case's deadlines: an append of any other type leaves them."""
        named: set[str] = {"deadline_resolved", "case_closed", "case_reopened", "event_corrected"}
        named |= {"event_retracted", "fled_country", "relocated"}  # arrivals, for filing windows
        for rule in self.kind_rules.values():
            named |= rule.sources | rule.superseded_by | rule.met_by | rule.resolved_by | rule.contacts
        return frozenset(named)

    @property
    def max_lead_days(self) -> int:
        return max((d for r in self.kind_rules.values() for d in r.lead_days), default=0)

    def lead_days(self, kind: str) -> tuple[int, ...]:
        """Days before the due date on which a deadline of `kind` alerts, largest first."""
        return self.kind_rules[kind].lead_days

    def holidays_for(self, country: str | None) -> frozenset[date]:
        """The holidays that move a period counted for `country`."""
        return self.holidays | self.country_holidays.get(country or "", frozenset())

    def appeal_periods_for(
        self, country: str | None, procedure: str | None, outcome: str | None
    ) -> list[AppealPeriod]:
        """The most specific entries fitting a decision (several only when equally specific)."""
        for place in (country, "*"):
            fitting = [p for p in self.appeal_periods if p.country == place and p.fits(procedure, outcome)]
            if fitting:
                top = max(p.conditions for p in fitting)
                return [p for p in fitting if p.conditions == top]
        return []


def load_rules(paths: str | Path | Sequence[str | Path]) -> Rules:
    """Read and validate rules files, each later one layered over the ones before it."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    if not paths:
        raise RuleError("no deadline rules file given")
    layers = _Layers()
    for path in map(Path, paths):
        layers.add(display_path(path), read_rules_toml(path, RuleError, "rules file"))
    return layers.build()


class _Layers:
    """The rules files read so far, merged by kind and by country."""

    def __init__(self) -> None:
        self.files = 0
        self.kinds: dict[str, dict[str, Any]] = {}
        self.appeals: list[AppealPeriod] = []
        self.windows: dict[str, dict[str, Any]] = {}
        self.where: dict[str, str] = {}  # entry -> "file: entry" of its last change, for messages
        self.holidays: dict[str, set[date]] = {}

    def add(self, src: str, doc: dict[str, Any]) -> None:
        _check_keys(doc, ("holidays", "kinds", "appeal_periods", "filing_windows"), src, "section")
        for name, table in _table(doc.get("kinds", {}), f"{src}: kinds").items():
            self._add_kind(f"{src}: kinds.{name}", name, table)
        if "appeal_periods" in doc:
            self._add_appeals(src, doc["appeal_periods"])
        for country, table in _table(doc.get("filing_windows", {}), f"{src}: filing_windows").items():
            where = self.where[f"filing_windows.{country}"] = f"{src}: filing_windows.{country}"
            _country(country, where, "the name")
            self.windows.setdefault(country, {}).update(_parse(table, _WINDOW_KEYS, where))
        for key, value in _table(doc.get("holidays", {}), f"{src}: holidays").items():
            if key != "dates" and not is_country_code(key):
                _fail(f"{src}: holidays", f"unknown key {key!r} (expected dates, or a country code like DE)")
            self.holidays.setdefault(key, set()).update(_dates(value, f"{src}: holidays.{key}"))
        self.files += 1

    def _add_kind(self, where: str, name: str, table: Any) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            _fail(where, "a kind's name is made of lower-case letters, digits and _")
        spec = _parse(table, _KIND_KEYS, where)
        if "due_field" in spec and "due_rule" in spec:
            _fail(where, "give due_field or due_rule, not both")
        if name not in self.kinds:
            missing = [k for k in ("title", "sources", "lead_days") if k not in spec]
            missing += [] if {"due_field", "due_rule"} & spec.keys() else ["due_field or due_rule"]
            if missing and self.files:
                _fail(where, f"unknown kind; a new kind also needs {', '.join(missing)}")
            if missing:
                _fail(where, f"missing {', '.join(missing)}")
        merged = self.kinds.setdefault(name, {})
        if {"due_field", "due_rule"} & spec.keys():
            merged.pop("due_field", None), merged.pop("due_rule", None)
        merged.update(spec)
        self.where[f"kinds.{name}"] = where

    def _add_appeals(self, src: str, entries: Any) -> None:
        if not isinstance(entries, list):
            _fail(f"{src}: appeal_periods", "must be a list of [[appeal_periods]] entries")
        added: dict[tuple[str, frozenset[str], frozenset[str]], int] = {}
        new: list[AppealPeriod] = []
        for i, table in enumerate(entries, 1):
            country = table.get("country") if isinstance(table, dict) else None
            where = f"{src}: appeal_periods[{i}]" + (f" ({country})" if isinstance(country, str) else "")
            spec = _parse(table, _APPEAL_KEYS, where)
            _require(spec, ("country", "period", "source"), where)
            entry = AppealPeriod(**spec)
            same = (entry.country, entry.procedure, entry.outcome)
            if same in added:
                _fail(where, f"same country, procedure and outcome as appeal_periods[{added[same]}]")
            added[same] = i
            new.append(entry)
        # A file's entries for a country replace every earlier entry for that country.
        countries = {entry.country for entry in new}
        self.appeals = [p for p in self.appeals if p.country not in countries] + new
        self.where["appeal_periods"] = f"{src}: appeal_periods"

    def build(self) -> Rules:
        kinds = {
            name: _kind_rule(name, spec, self.where[f"kinds.{name}"]) for name, spec in self.kinds.items()
        }
        windows = {}
        for country, spec in self.windows.items():
            _require(spec, ("period", "source"), self.where[f"filing_windows.{country}"])
            windows[country] = FilingWindow(**spec)
        needs_default = any(r.due_rule == "appeal_period" for r in kinds.values())
        if needs_default and not any(p.country == "*" and not p.conditions for p in self.appeals):
            _fail(
                self.where.get("appeal_periods", "appeal_periods"),
                'needs an entry with country = "*" (any other country) and no procedure or outcome',
            )
        return Rules(
            kind_rules=kinds,
            appeal_periods=tuple(self.appeals),
            filing_windows=windows,
            holidays=frozenset(self.holidays.pop("dates", ())),
            country_holidays={c: frozenset(d) for c, d in self.holidays.items()},
        )


def _kind_rule(name: str, spec: dict[str, Any], where: str) -> KindRule:
    rule = KindRule(kind=name, **spec)
    arrival = rule.due_rule in ("arrival_window", STAY_UNKNOWN)
    if not rule.sources:
        _fail(where, "sources must name at least one event type")

    def need(fields: set[str], types: frozenset[str], key: str, view: bool = False) -> None:
        for t in sorted(types):
            missing = sorted(fields - (ARRIVAL_FIELDS if view else EVENT_FIELDS[t].keys()))
            if missing:
                _fail(where, f"{key}: {missing[0]!r} is not a field of {t}")

    need({rule.due_field} if rule.due_field else set(), rule.sources, "due_field")
    need({f for f, _ in rule.when}, rule.sources, "when")
    need(set(rule.same), rule.sources | rule.superseded_by, "same", view=arrival)
    need(set(rule.same), rule.met_by | rule.resolved_by, "same")
    for t in sorted(rule.sources):
        if rule.due_field and EVENT_FIELDS[t][rule.due_field].kind != "date":
            _fail(where, f"due_field: {rule.due_field!r} of {t} is not a date")
        for f, values in rule.when:
            choices = EVENT_FIELDS[t][f].choices
            if choices and not values <= set(choices):
                _fail(where, f"when.{f}: {sorted(values - set(choices))[0]!r} is not a {f} of {t}")
    if rule.due_rule == "appeal_period":
        need({"country", "outcome", "procedure", "notified_on"}, rule.sources, "due_rule appeal_period")
    if rule.due_rule == "after_last_contact":
        need({"every_days"}, rule.sources, "due_rule after_last_contact")
        if not rule.contacts:
            _fail(where, "due_rule after_last_contact needs contacts (the event types that count as contact)")
    elif rule.contacts:
        _fail(where, "contacts is only used with due_rule = after_last_contact")
    if rule.due_rule == STAY_COUNT and not rule.sources <= STAY_TYPES:
        _fail(where, f"due_rule stay_count takes only {', '.join(sorted(STAY_TYPES))} as sources")
    if rule.due_rule == "arrival_window" and not rule.sources | rule.superseded_by <= {
        "fled_country",
        "relocated",
    }:
        _fail(where, "due_rule arrival_window takes only fled_country and relocated as events")
    if rule.due_rule == STAY_UNKNOWN:
        if not rule.sources | rule.superseded_by <= ARRIVALS:
            _fail(where, f"due_rule stay_unknown takes only {', '.join(sorted(ARRIVALS))} as arrivals")
        if rule.period is None:
            _fail(where, "due_rule stay_unknown needs period (how long after the arrival it is due)")
    elif rule.period is not None:
        _fail(where, "period is only used with due_rule = stay_unknown")
    return rule


def _fail(where: str, problem: str) -> NoReturn:
    raise RuleError(f"{where}: {problem}")


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(where, "must be a table of keys and values")
    return value


def _check_keys(table: dict[str, Any], allowed: Sequence[str], where: str, what: str = "key") -> None:
    for key in table:
        if key not in allowed:
            _fail(where, f"unknown {what} {key!r} (expected one of: {', '.join(allowed)})")


def _parse(table: Any, parsers: Mapping[str, Callable[[Any, str, str], Any]], where: str) -> dict[str, Any]:
    _check_keys(_table(table, where), list(parsers), where)
    return {key: parsers[key](value, where, key) for key, value in table.items()}


def _require(spec: Mapping[str, Any], keys: Sequence[str], where: str) -> None:
    missing = [k for k in keys if k not in spec]
    if missing:
        _fail(where, f"missing {', '.join(missing)}")


def _texts(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        _fail(where, f"{key} must be a text or a list of texts, not {value!r}")
    return tuple(value)


def _text(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(where, f"{key} must be a non-empty text, not {value!r}")
    return value


def _one_of(choices: Sequence[str]) -> Callable[[Any, str, str], frozenset[str]]:
    def parse(value: Any, where: str, key: str) -> frozenset[str]:
        return frozenset(_choice(choices)(item, where, key) for item in _texts(value, where, key))

    return parse


def _choice(choices: Sequence[str]) -> Callable[[Any, str, str], str]:
    def parse(value: Any, where: str, key: str) -> str:
        if not isinstance(value, str) or value not in choices:
            _fail(where, f"{key} must be one of {', '.join(choices)}, not {value!r}")
        return value

    return parse


def _bool(value: Any, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        _fail(where, f"{key} must be true or false, not {value!r}")
    return value


def _country(value: Any, where: str, key: str, any_ok: bool = False) -> str:
    if not isinstance(value, str) or not (is_country_code(value) or (any_ok and value == "*")):
        also = ' or "*"' if any_ok else ""
        _fail(where, f"{key} must be an ISO 3166-1 country code in capitals{also}, not {value!r}")
    return value


def _title(value: Any, where: str, key: str) -> str:
    text = _text(value, where, key)
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        names = ["?"]
    if any(name not in TITLE_FIELDS for name in names):
        allowed = ", ".join(f"{{{f}}}" for f in TITLE_FIELDS)
        _fail(where, f"title may use only {allowed}: {text!r}")
    return text


def _when(value: Any, where: str, key: str) -> tuple[tuple[str, frozenset[str]], ...]:
    conditions = _table(value, f"{where}: when").items()
    return tuple((f, frozenset(_texts(v, where, f"when.{f}"))) for f, v in conditions)


def _lead_days(value: Any, where: str, key: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        _fail(where, f"lead_days must be a list of whole numbers of days, not {value!r}")
    if any(d < 0 for d in value):
        _fail(where, f"lead_days cannot be negative: {value!r}")
    if len(set(value)) != len(value):
        _fail(where, f"lead_days lists a day twice: {value!r}")
    return tuple(sorted(value, reverse=True))


def _period(value: Any, where: str, key: str) -> Period:
    try:
        return parse_period(value if isinstance(value, str) else repr(value))
    except ValueError as exc:
        _fail(where, f"{key} {exc}")


def _event_types(value: Any, where: str, key: str) -> frozenset[str]:
    for name in _texts(value, where, key):
        if name not in EVENT_FIELDS:
            _fail(where, f"{key}: {name!r} is not an event type a rule can use")
    return frozenset(_texts(value, where, key))


def _dates(value: Any, where: str) -> set[date]:
    if not isinstance(value, list):
        _fail(where, "must be a list of dates, like [2025-01-01, 2025-12-25]")
    days = set()
    for i, item in enumerate(value, 1):
        try:
            if isinstance(item, datetime) or not isinstance(item, date | str):
                raise ValueError
            days.add(item if isinstance(item, date) else date.fromisoformat(item))
        except ValueError:
            _fail(f"{where}[{i}]", f"{item!r} is not a date (YYYY-MM-DD)")
    return days


_KIND_KEYS: dict[str, Callable[[Any, str, str], Any]] = {
    "title": _title,
    "sources": _event_types,
    "when": _when,
    "due_field": _text,
    "due_rule": _choice(DUE_RULES),
    "same": _texts,
    "superseded_by": _event_types,
    "met_by": _event_types,
    "resolved_by": _event_types,
    "contacts": _event_types,
    "lead_days": _lead_days,
    "period": _period,
}
_APPEAL_KEYS: dict[str, Callable[[Any, str, str], Any]] = {
    "country": lambda value, where, key: _country(value, where, key, any_ok=True),
    "procedure": _one_of(PROCEDURES),
    "outcome": _one_of(OUTCOMES),
    "period": _period,
    "roll_weekend": _bool,
    "body": _text,
    "source": _text,
}
_WINDOW_KEYS: dict[str, Callable[[Any, str, str], Any]] = {
    "period": _period,
    "roll_weekend": _bool,
    "source": _text,
}
