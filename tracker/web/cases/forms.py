"""The add-event form, built from the catalogue's declaration of the chosen type.

Every input is named after its field ("f-<field>", "d-<field>" for the data a correction replaces),
so the core's error keys ("country", "data.country", "occurred_on") find the input they belong to.
Values travel as text; they are turned into numbers and yes/no here and checked by the core, whose
messages (translated) are shown next to the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _

from tracker.events.catalogue import CATALOGUE, DATE_PRECISIONS, EventType, Field
from tracker.services.entry import FormContext
from tracker.services.timeline import Entry
from tracker.web import i18n, labels
from tracker.web.messages import translate

CORRECTIONS = ("event_corrected", "event_retracted")
#: Types that the "add event" picker does not offer: they have their own actions.
NOT_PICKED = frozenset({"case_opened", "personal_data_erased", *CORRECTIONS})
ASSIGNING = frozenset({"caseworker_assigned", "caseworker_unassigned"})


@dataclass
class Input:
    """One input of the form as the template draws it."""

    name: str
    key: str
    kind: str
    label: str
    required: bool = False
    value: str = ""
    choices: list[tuple[str, str]] | None = None
    usual: tuple[tuple[str, str], ...] = ()  # offered first, in their own group (countries)
    error: str | None = None
    sensitive: bool = False
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    hint: str = ""
    hidden: bool = False
    also_keys: tuple[str, ...] = field(default_factory=tuple)


#: Acts of the organization itself, known to the day: their form asks for no date precision.
EXACT_DAY = frozenset({"deadline_resolved"})


#: At most this many of a user's usual types come first in the picker.
USUAL_MOST = 5


def pickable_types(role: str, usual: list[str] | None = None) -> list[tuple[str, list[str]]]:
    """(group, types) that the add-event picker offers to a role; first the user's `usual` types that
    it offers ("usual" group), which stay in their own group too."""
    out: dict[str, list[str]] = {}
    for t in CATALOGUE.values():
        if t.name in NOT_PICKED or not t.api_writable or (t.name in ASSIGNING and role == "caseworker"):
            continue
        out.setdefault(t.group, []).append(t.name)
    offered = {name for names in out.values() for name in names}
    first = [name for name in usual or [] if name in offered][:USUAL_MOST]
    return ([("usual", first)] if first else []) + list(out.items())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _typed(f: Field, raw: str) -> Any:
    """The value to send for a field, or None to leave it out; bad text stays text for the core to name."""
    text = raw if f.kind == "text" else raw.strip()
    if text.strip() == "":
        return None
    if f.kind == "int":
        try:
            return int(text)
        except ValueError:
            return text
    if f.kind == "number":
        for convert in (int, float):
            try:
                return convert(text.replace(",", "."))
            except ValueError:
                continue
        return text
    if f.kind == "bool":
        return {"yes": True, "no": False}.get(text, text)
    return text


class EventForm:
    """The inputs of one event type's form, their values, and the errors found for them."""

    def __init__(
        self,
        type_name: str,
        ctx: FormContext | None,
        values: Mapping[str, str],
        today: date,
        target: Entry | None = None,
    ) -> None:
        self.type: EventType = CATALOGUE[type_name]
        self.ctx = ctx
        self.target = target
        self.values = values
        self.today = today
        self.moved_from: str | None = None
        self.general: list[str] = []
        self.inputs: list[Input] = []
        self.payload_inputs: list[tuple[Field, Input]] = []
        self.data_inputs: list[tuple[Field, Input]] = []
        exact = type_name in EXACT_DAY
        if type_name not in CORRECTIONS:
            self.inputs.append(
                Input(
                    "occurred_on",
                    "occurred_on",
                    "date",
                    _("Date it happened"),
                    required=True,
                    value=values.get("occurred_on", today.isoformat()),
                    hint="" if exact else _("For an approximate date, choose the precision below."),
                )
            )
        if type_name not in CORRECTIONS and not exact:
            precisions = [(p, labels.choice_label(p)) for p in DATE_PRECISIONS]
            self.inputs.append(
                Input(
                    "date_precision",
                    "date_precision",
                    "enum",
                    _("The date is exact to the"),
                    value=values.get("date_precision", "day"),
                    choices=precisions,
                )
            )
        if type_name == "event_corrected" and target is not None:
            self._correction_inputs(target)
        elif type_name in CORRECTIONS and target is not None:
            self._add(self.type.field("reason"), "f-", "")
        else:
            for f in self.type.fields:
                self._add(f, "f-", "")

    def _correction_inputs(self, target: Entry) -> None:
        fix = target.correction
        current = fix.data if fix is not None and fix.data is not None else target.data
        moved = fix.occurred_on if fix is not None and fix.occurred_on else target.occurred_on.isoformat()
        target_type = CATALOGUE[target.type]
        for f in target_type.fields:
            if f.sensitive and self.ctx is not None and self.ctx.erased:
                continue  # nothing can be written to an erased field; the form leaves it out
            default = _text(current.get(f.name))
            self._add(f, "d-", "data.", default, type_name=target.type)
        new_date = Input(
            "f-occurred_on",
            "occurred_on",
            "date",
            _("Date it happened"),
            value=self.values.get("f-occurred_on", moved),
            also_keys=("data.occurred_on",),
        )
        self.inputs.append(new_date)
        self.payload_inputs.append((self.type.field("occurred_on"), new_date))
        self.moved_from = moved
        self._add(self.type.field("reason"), "f-", "")

    def _add(self, f: Field, prefix: str, key_prefix: str, default: str = "", type_name: str = "") -> None:
        name = prefix + f.name
        owner = type_name or self.type.name
        item = Input(
            name=name,
            key=key_prefix + f.name,
            kind=f.kind,
            label=labels.field_label(owner, f.name),
            required=f.required,
            value=self.values.get(name, default),
            sensitive=f.sensitive,
            max_length=f.max_length,
            minimum=f.minimum,
            maximum=f.maximum,
        )
        item.choices = self._choices(owner, f, item.value)
        if f.kind == "country":
            item.usual = i18n.usual_countries()
        self.inputs.append(item)
        (self.data_inputs if prefix == "d-" else self.payload_inputs).append((f, item))

    def _choices(self, owner: str, f: Field, value: str) -> list[tuple[str, str]] | None:
        empty = [("", "—")]
        ctx = self.ctx or FormContext("", 0, "open", "", [], [], [], [], False)
        if f.kind == "enum":
            choices = [(c, labels.choice_label(c)) for c in f.choices]
        elif f.kind == "country":
            choices = list(i18n.other_countries())
        elif f.kind == "bool":
            choices = [("yes", labels.choice_label(True)), ("no", labels.choice_label(False))]
        elif f.kind == "event_ref" and f.name == "criminal_case":
            choices = [
                (e.id, f"{e.occurred_on.isoformat()} — {_('article')} {e.data.get('article', '?')}")
                for e in ctx.entries
                if e.type == "criminal_case_opened" and e.state != "retracted"
            ]
        elif f.kind == "event_ref" and f.name == "related_person":
            choices = [
                (e.id, i18n.related_person_name(e))
                for e in ctx.entries
                if e.type == "related_person_recorded" and e.state != "retracted"
            ]
        elif f.kind == "event_ref" and f.name == "follow_up":
            choices = [
                (e.id, f"{e.data.get('due_on', '?')} — {e.data.get('title', '?')}")
                for e in ctx.entries
                if e.type == "follow_up_set" and e.state != "retracted"
            ]
        elif f.kind == "username" and f.name == "owner":
            choices = [(n, n) for n in ctx.owners]
        elif f.kind == "username":
            names = (
                ctx.caseworkers
                if owner == "caseworker_unassigned"
                else [n for n in ctx.assignable if n not in ctx.caseworkers]
            )
            choices = [(n, n) for n in names]
        elif f.name == "deadline_key" and owner in ("deadline_resolved", "follow_up_set"):
            choices = [
                (d["key"], f"{d['due_on']} — {i18n.deadline_title(d['title'])}") for d in ctx.deadlines
            ]
        else:
            return None
        known = {c for c, _label in choices} | (
            {c for c, _label in i18n.usual_countries()} if f.kind == "country" else set()
        )
        if value and value not in known:
            choices.append((value, value))
        return empty + choices

    def body(self) -> dict[str, Any]:
        """The event as the core takes it: `{"type", "occurred_on", "date_precision", "data"}`."""
        data: dict[str, Any] = {}
        for f, item in self.payload_inputs:
            value = _typed(f, item.value)
            if value is not None:
                data[f.name] = value
        if self.type.name in CORRECTIONS:
            assert self.target is not None
            data["event_id"] = self.target.id
            if self.type.name == "event_corrected":
                if data.get("occurred_on") == self.moved_from:
                    data.pop("occurred_on")
                data["data"] = {
                    f.name: v for f, item in self.data_inputs if (v := _typed(f, item.value)) is not None
                }
            return {"type": self.type.name, "occurred_on": self.today.isoformat(), "data": data}
        return {
            "type": self.type.name,
            "occurred_on": self.values.get("occurred_on", "").strip(),
            "date_precision": "day"
            if self.type.name in EXACT_DAY
            else self.values.get("date_precision", "day"),
            "data": data,
        }

    def set_errors(self, errors: Mapping[str, str]) -> None:
        """Put each of the core's messages next to its input; the rest go above the form."""
        by_key: dict[str, Input] = {}
        for item in self.inputs:
            by_key.setdefault(item.key, item)
            for extra in item.also_keys:
                by_key.setdefault(extra, item)
        for key, message in errors.items():
            text = translate(message)
            target = by_key.get(key)
            if target is not None and not target.hidden:
                target.error = text
            else:
                label = labels.field_label(self.type.name, key.removeprefix("data."))
                self.general.append(f"{label}: {text}")
