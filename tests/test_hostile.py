"""Hostile payloads at the write endpoints: only 201 or 4xx, never 5xx, nothing stored on 4xx, and what
is stored reads back as it was sent (after the catalogue's documented normalization).

The bodies are built from the catalogue's declarations: a valid payload of a type, with hostile but legal
strings (scripts, bidi controls, emoji, SQL and HTML, strings at their length limit), and at most one
thing mutated into something invalid (a NUL, a string one character too long, a bad date, an unknown
field, a stale expected_version ...). Unmutated bodies must be stored; mutated ones must be refused.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import open_case
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tracker.events.catalogue import CATALOGUE, DATE_ORDER, EventType, Field
from tracker.events.countries import COUNTRY_CODES
from tracker.events.fields import (
    EARLIEST_DATE,
    JOINERS,
    LATEST_DATE,
    MULTI_LINE_PATTERN,
    PADDING,
    is_one_line,
)

EXAMPLES = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Bodies name what only the case under attack knows by placeholders: "⟦crime⟧" (the id of its
# criminal_case_opened event; "⟦crime^⟧" the same in capitals), "⟦version⟧", "⟦fresh⟧" ...
PLACEHOLDER = re.compile(r"⟦[a-z]+[\^+\-0-9]*⟧")
# Events the setup writes into the case, by placeholder name.
SETUP_TYPES = {
    "opened": "case_opened",
    "crime": "criminal_case_opened",
    "note": "note_added",
    "reminder": "reminder_set",
    "person": "related_person_recorded",
    "followup": "follow_up_set",
}
#: The setup event each kind of reference names (criminal_case: the criminal case).
REFERENCED = {"related_person": "person", "follow_up": "followup"}
# Legal but unusual usernames, made in the setup.
USERNAMES = ("ada", "a.b-c_d", "0x", "z" * 40)
WRITABLE = [name for name, t in CATALOGUE.items() if t.api_writable]
LATEST_PAST = datetime.now(UTC).date() - timedelta(days=1)

# --- hostile but legal strings ------------------------------------------------------------------------

SNIPPETS = [
    "Robert'); DROP TABLE events;--", "' OR '1'='1", "1; DELETE FROM case_status", "'; SELECT pg_sleep(5);--",
    "<script>alert(1)</script>", "<img src=x onerror=alert(document.cookie)>", "</textarea><b>x</b>",
    "&amp;&lt;&#x27;&quot;", "{{ config.SECRET_KEY }}", "{% endraw %}", "${jndi:ldap://x/a}", "%s%n%x%d",
    "\\u0000", "\\", '"', "null", "[]", "{}", "Евгений Сергеевич", "فرهاد", "\u200fשלום\u200e",
    "\u202eevil\u202c", "\u2066isolate\u2069", "a\u200db\u200cc", "\ufeffBOM", "👨\u200d👩\u200d👧\u200d👦",
    "🏳️\u200d🌈", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\U0010fffd", "\ue000", "\uffff", "Z\u0338\u0322\u0347a", "line1\nline2\ttab",
    "İıŞşǅ", "x\u0301", "e\u0301", "\u00a0nbsp\u2003em", "a\u2028b\u2029c", "  padded  ", "cr\r\nlf\rx",
]  # fmt: skip
# Any code point but surrogates and control characters (newline and tab are allowed).
CHARS = st.characters(codec=None, exclude_categories=("Cs", "Cc")) | st.sampled_from("\n\t")
PIECES = st.sampled_from(SNIPPETS) | st.text(CHARS, min_size=1, max_size=8)


def _normalized(text: str) -> str:
    """What the catalogue stores for a string: stripped, CR LF as LF, NFC."""
    return unicodedata.normalize("NFC", text.strip().replace("\r\n", "\n").replace("\r", "\n"))


def _visible(text: str) -> bool:
    return any(not c.isspace() and c not in JOINERS for c in text)


def _fit(text: str, limit: int) -> str:
    """`text` cut so that even after normalization it is within `limit` and not blank."""
    for _ in range(4):
        if len(text.strip()) <= limit and len(_normalized(text)) <= limit and _visible(_normalized(text)):
            return text
        text = _normalized(text)[:limit]
    return "x"


EDGES = re.compile("^[\\s\u200c\u200d]+|[\\s\u200c\u200d]+$")


@st.composite
def legal_strings(draw: Any, limit: int, multi_line: bool = True) -> str:
    """A non-blank string within `limit` characters once normalized; now and then right at the limit.

    Multi-line text keeps newlines and tabs; single-line text may have them only around it.
    """
    pieces = draw(st.lists(PIECES, min_size=1, max_size=4))
    text = "".join(pieces)
    allowed = (lambda c: re.fullmatch(MULTI_LINE_PATTERN, c)) if multi_line else is_one_line
    text = "".join(c for c in text if allowed(c))
    if draw(st.integers(0, 4)) == 0:  # as long as it may be
        text = (text * (limit // max(len(text), 1) + 2))[: limit + 4]
    # A value begins and ends with a visible character: no blank or joiner at its edges.
    text = EDGES.sub("", _fit(text, limit)) or "x"
    return text if multi_line else text.strip(PADDING) + draw(st.sampled_from(["", "\t", "\r\n"]))


def too_long(limit: int) -> st.SearchStrategy[str]:
    return st.sampled_from(["x", "é", "👨\u200d👩", "<b>"]).map(
        lambda unit: (unit * (limit + 1))[: limit + 1]
    )


# --- valid values, from the declarations --------------------------------------------------------------

DAYS = st.dates(EARLIEST_DATE, LATEST_DATE)
PAST_DAYS = st.dates(EARLIEST_DATE, LATEST_PAST)


def padded(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A value, sometimes with whitespace around it (stripped on the way in)."""
    return st.tuples(values, st.sampled_from(["", " ", "\t", " \n"])).map(lambda p: p[1] + p[0] + p[1])


def legal_value(f: Field) -> st.SearchStrategy[Any]:
    kind = f.kind
    if kind in ("str", "text"):
        if f.pattern is not None:
            return st.from_regex(f.pattern, fullmatch=True)
        return legal_strings(f.max_length or 200, multi_line=kind == "text")
    if kind == "country":
        return padded(st.sampled_from(sorted(COUNTRY_CODES)))
    if kind == "enum":
        return padded(st.sampled_from(f.choices))
    if kind == "date":
        return padded(DAYS.map(date.isoformat))
    if kind == "int":
        return st.integers(int(f.minimum or 0), int(f.maximum if f.maximum is not None else 10**6))
    if kind == "number":
        low, high = f.minimum or 0, f.maximum if f.maximum is not None else 10**12
        return st.integers(int(low), int(high)) | st.floats(low, high, allow_nan=False, allow_infinity=False)
    if kind == "bool":
        return st.booleans()
    if kind == "event_ref":  # event_id is set per type; the others name the setup's event of their kind
        name = REFERENCED.get(f.name, "crime")
        return st.sampled_from([f"⟦{name}⟧", f"⟦{name}^⟧"])  # ^: written in capitals
    if kind == "username" and f.name == "owner":
        return st.just("ada")  # a follow-up's owner must see the case: the admin does
    if kind == "username":
        return st.sampled_from(USERNAMES)
    raise AssertionError(f"no strategy for field kind {kind}")


@st.composite
def legal_payload(draw: Any, event_type: EventType) -> dict[str, Any]:
    """A valid payload of `event_type`: every required field, some optional ones (a few as null)."""
    data: dict[str, Any] = {}
    for f in event_type.fields:
        if f.kind == "object":
            continue
        if f.required or draw(st.booleans()):
            data[f.name] = draw(legal_value(f))
        elif draw(st.integers(0, 5)) == 0:
            data[f.name] = None  # null means absent
    order = DATE_ORDER.get(event_type.name)
    if order and all(isinstance(data.get(k), str) for k in order):
        earlier, later = sorted((data[order[0]], data[order[1]]), key=str.strip)
        data[order[0]], data[order[1]] = earlier, later
    if event_type.name == "event_corrected":
        target = draw(st.sampled_from(sorted(SETUP_TYPES)))
        data["event_id"] = "⟦" + target + draw(st.sampled_from(["", "^"])) + "⟧"
        data["data"] = draw(legal_payload(CATALOGUE[SETUP_TYPES[target]]))
        if draw(st.booleans()):
            data["occurred_on"] = draw(PAST_DAYS.map(date.isoformat))
        else:
            data.pop("occurred_on", None)
    elif event_type.name == "event_retracted":
        data["event_id"] = "⟦fresh⟧"  # a note written just before, so that there is always one to retract
    elif event_type.name == "deadline_resolved" or data.get("deadline_key") is not None:
        data["deadline_key"] = "⟦deadline⟧"
    return data


@st.composite
def legal_bodies(draw: Any, types: list[str] = WRITABLE) -> dict[str, Any]:
    """A valid POST /cases/{id}/events body."""
    type_name = draw(st.sampled_from(types))
    body: dict[str, Any] = {
        "type": type_name,
        "occurred_on": draw(padded(PAST_DAYS.map(date.isoformat))),
        "data": draw(legal_payload(CATALOGUE[type_name])),
    }
    precision = draw(st.sampled_from([None, "day", "month", "year", "absent"]))
    if precision != "absent":
        body["date_precision"] = precision
    if draw(st.booleans()):
        body["expected_version"] = "⟦version⟧"
    return body


# --- one mutation -------------------------------------------------------------------------------------

BAD_DATES = ["2999-01-01", "⟦tomorrow⟧", "2023-02-29", "2023-13-01", "1899-12-31", "2200-01-01", "23-01-01",
             "2023-1-1", "01.02.2023", "２０２３-01-01", "", 20230101, True, ["2023-01-01"]]  # fmt: skip
CONTROL = ["\x00", "\x07", "\x1b[31m", "\ud800", "\x7f", "\x9b", "\u202e", "\u2028"]


def bad_value(f: Field) -> st.SearchStrategy[Any]:
    """A value that `f` must refuse."""
    kind = f.kind
    wrong_type = st.sampled_from([5, 1.5, True, [], {"a": 1}])
    if kind in ("str", "text"):
        limit = f.max_length or 200
        with_control = st.tuples(legal_strings(limit - 8), st.sampled_from(CONTROL)).map(
            lambda p: p[0][: len(p[0]) // 2] + p[1] + p[0][len(p[0]) // 2 :]
        )
        bad = too_long(limit) | with_control | wrong_type
        if f.pattern is not None:
            bad |= st.sampled_from(["eur", "EURO", "€", "E U"])
        return bad | st.sampled_from(["", "   ", "\n\t"]) if f.required else bad
    if kind == "country":
        return st.sampled_from(["XX", "kz", "KAZ", "K Z", "UK", "SU"]) | wrong_type
    if kind == "enum":
        return st.sampled_from([f.choices[0].upper(), "nope", f.choices[0] + "\x00"]) | wrong_type
    if kind == "date":
        return st.sampled_from([d for d in BAD_DATES if d not in ("⟦tomorrow⟧", "", True)]) | wrong_type
    if kind in ("int", "number"):
        low, high = f.minimum, f.maximum
        out = st.sampled_from([x for x in (low - 1 if low is not None else None, high + 1 if high is not None
                                           else None, 2**70) if x is not None])  # fmt: skip
        out |= st.sampled_from(["5", True, [1], "1"])
        return out | st.just(1.5) if kind == "int" else out
    if kind == "bool":
        return st.sampled_from(["true", 1, 0, "yes"])
    if kind == "event_ref":
        refs = ["#1", "not-a-uuid", 1, "⟦unknown⟧"]
        if f.name in ("criminal_case", *REFERENCED):
            refs.append("⟦note⟧")  # an event of the case, but not of the kind named
        return st.sampled_from(refs)
    if kind == "username":
        return st.sampled_from(["nobody", "Ada", "a", "x" * 41, "ada\x00", "-ada"])
    return st.sampled_from([[], "x", 1, {"no_such_field": 1}])  # object


@st.composite
def mutated(draw: Any, body: dict[str, Any]) -> tuple[str, Any]:
    """(what was changed, the body with exactly one thing made invalid)."""
    out = json.loads(json.dumps(body))
    data = out["data"]
    event_type = CATALOGUE[out["type"]]
    fields = list(event_type.fields)
    # Hypothesis leans towards the first choices: the payload's own fields come first.
    choices = ["field"] * 6 if fields else []
    choices += ["occurred_on", "no_occurred_on", "precision", "type", "internal_type", "envelope_key",
               "data_not_object", "stale_version", "bad_version", "unknown_field"]  # fmt: skip
    if event_type.required_fields:
        choices += ["drop_required"] * 2
    if event_type.name == "event_corrected":
        choices += ["corrected_inner", "corrected_occurred_on"]
    how = draw(st.sampled_from(choices))
    if how == "occurred_on":
        out["occurred_on"] = draw(st.sampled_from(BAD_DATES))
    elif how == "no_occurred_on":
        out.pop("occurred_on")
    elif how == "precision":
        out["date_precision"] = draw(st.sampled_from(["week", "DAY", "", 1, True]))
    elif how == "type":
        out["type"] = draw(st.sampled_from(["teleported", "", "NOTE_ADDED", "note_added\x00", 5, None, []]))
    elif how == "internal_type":
        out["type"] = "personal_data_erased"
        out["data"] = {"reason": "because"}
    elif how == "envelope_key":
        out[draw(st.sampled_from(["id", "version", "recorded_by", "hash", "Type", "\x00"]))] = "x"
    elif how == "data_not_object":
        out["data"] = draw(st.sampled_from([[], "x", 1, True, [data]]))
    elif how == "stale_version":
        out["expected_version"] = draw(st.sampled_from(["⟦version-1⟧", "⟦version+1⟧"]))
    elif how == "bad_version":
        out["expected_version"] = draw(st.sampled_from([-1, "1", 1.5, True, 2**40, []]))
    elif how == "unknown_field":
        data[draw(st.sampled_from(["no_such_field", "Text", "text ", "__proto__", "", "\x00", "data2"]))] = 1
    elif how == "drop_required":
        data.pop(draw(st.sampled_from(event_type.required_fields)), None)
    elif how == "field":
        f = draw(st.sampled_from(fields))
        data[f.name] = draw(bad_value(f))
        how = f"field:{f.kind}"
    elif how == "corrected_inner":
        target = CATALOGUE[SETUP_TYPES[data["event_id"].strip("⟦^⟧")]]
        inner = dict(data["data"])
        if target.required_fields and draw(st.booleans()):
            inner.pop(draw(st.sampled_from(target.required_fields)))
        else:
            f = draw(st.sampled_from(target.fields))
            inner[f.name] = draw(bad_value(f))
        data["data"] = inner
    elif how == "corrected_occurred_on":
        data["occurred_on"] = draw(st.sampled_from(["⟦tomorrow⟧", "2999-01-01", "1899-12-31", "2023-02-30"]))
    return how, out


@st.composite
def hostile_bodies(draw: Any) -> tuple[str, Any]:
    """("none", a valid body) half of the time; else (what was changed, a body with one bad thing)."""
    body = draw(legal_bodies())
    if draw(st.booleans()):
        return "none", body
    return draw(mutated(body))


# --- the case under attack ----------------------------------------------------------------------------


@dataclass
class Scene:
    app: Any
    api: Any
    case_id: str
    refs: dict[str, str] = field(default_factory=dict, repr=False)
    types: dict[str, str] = field(default_factory=dict, repr=False)

    def post(self, path: str, body: bytes) -> Any:
        headers = {"Authorization": f"Bearer {self.api.token}", "Content-Type": "application/json"}
        return self.api.client.post("/api/v1" + path, data=body, headers=headers)

    def add(self, type_name: str, data: dict[str, Any], occurred_on: str = "2023-01-01") -> str:
        body = {"type": type_name, "occurred_on": occurred_on, "data": data}
        r = self.post(f"/cases/{self.case_id}/events", json.dumps(body).encode())
        assert r.status_code == 201, r.get_json()
        event_id = str(r.get_json()["id"])
        self.types[event_id] = type_name
        return event_id

    def version(self) -> int:
        return int(self.api.get(f"/cases/{self.case_id}").get_json()["version"])

    def stored_counts(self) -> tuple[int, int]:
        with self.app.extensions["tracker"].db.engine.connect() as conn:
            events = conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
            cases = conn.execute(sa.text("SELECT count(*) FROM case_status")).scalar_one()
        return int(events), int(cases)

    def events_after(self, version: int) -> list[dict[str, Any]]:
        return list(self.api.get(f"/cases/{self.case_id}/events", after_version=version).get_json()["events"])

    def resolve(self, value: Any) -> Any:
        """The body with its placeholders ("⟦crime⟧", "⟦version⟧" ...) replaced by this case's ids."""
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, str) or not PLACEHOLDER.fullmatch(value):
            return value
        name = value[1:-1]
        if name == "tomorrow":
            return (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
        if name.startswith("version"):
            return self.version() + int(name[len("version") :] or 0)
        if name == "fresh":
            return self.add("note_added", {"text": "to be retracted"})
        if name == "deadline":
            deadlines = self.api.get(f"/cases/{self.case_id}/deadlines", include_closed="true").get_json()
            return deadlines["deadlines"][0]["key"]
        if name == "unknown":
            return str(uuid.uuid4())
        ref = self.refs[name.rstrip("^")]
        return ref.upper() if name.endswith("^") else ref

    def state(self) -> str:
        return str(self.api.get(f"/cases/{self.case_id}").get_json()["status"]["state"])

    def prepare(self, type_name: Any) -> None:
        """Close or reopen the case so that a case_closed / case_reopened body fits its state.

        The state is that of the status, which folds events in occurred_on order: the step is dated
        yesterday, no earlier than any generated date, so that it decides the state.
        """
        flip = {
            "case_reopened": ("open", "case_closed", {"outcome": "other"}),
            "case_closed": ("closed", "case_reopened", {}),
        }
        if isinstance(type_name, str) and type_name in flip and self.state() == flip[type_name][0]:
            _, step, data = flip[type_name]
            self.add(step, data, LATEST_PAST.isoformat())
            assert self.state() != flip[type_name][0]


@pytest.fixture
def scene(app: Any, api_for: Any) -> Scene:
    """A case on the engine under test with one event of each SETUP_TYPES kind and a deadline."""
    api = api_for(app, "admin", "ada")
    for name in USERNAMES[1:]:
        api_for(app, "caseworker", name)
    case_id = open_case(api)
    scene = Scene(app, api, case_id)
    scene.refs["opened"] = str(scene.events_after(0)[0]["id"])
    scene.types[scene.refs["opened"]] = "case_opened"
    scene.refs["crime"] = scene.add("criminal_case_opened", {"country": "RU", "article": "337"})
    scene.refs["note"] = scene.add("note_added", {"text": "first note"})
    due = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    scene.refs["reminder"] = scene.add("reminder_set", {"title": "call back", "due_on": due})
    scene.refs["person"] = scene.add(
        "related_person_recorded", {"relation": "mother", "legal_name": "Galina"}
    )
    scene.refs["followup"] = scene.add("follow_up_set", {"title": "call", "owner": "ada", "due_on": due})
    return scene


# --- what must come back ------------------------------------------------------------------------------


def expected_payload(event_type: EventType, data: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    """The payload as the catalogue stores it: blanks and nulls dropped, strings normalized."""
    out: dict[str, Any] = {}
    for f in event_type.fields:
        value = data.get(f.name)
        if isinstance(value, str):
            value = _normalized(value)
            if f.kind == "event_ref":
                value = value.lower()
        if value is None or value == "":
            continue
        out[f.name] = value
    if event_type.name == "event_corrected":
        out["data"] = expected_payload(CATALOGUE[types[out["event_id"]]], data["data"], types)
    return out


def check_answer(r: Any) -> None:
    assert r.status_code == 201 or 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code != 201:
        body = r.get_json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str), r.get_data(as_text=True)[:300]


def attack(scene: Scene, body: Any) -> Any:
    """Post one body; checks the answer, what was (not) stored, and that it reads back as sent."""
    if isinstance(body, dict):
        scene.prepare(body.get("type"))
        body = scene.resolve(body)
    before_version, before_counts = scene.version(), scene.stored_counts()
    r = scene.post(f"/cases/{scene.case_id}/events", json.dumps(body).encode())
    check_answer(r)
    event(f"answer {r.status_code}")
    if r.status_code != 201:
        assert scene.stored_counts() == before_counts, "a refused event left rows behind"
        assert scene.version() == before_version and scene.events_after(before_version) == []
        return r
    answer = r.get_json()
    assert answer["version"] == before_version + 1
    assert scene.stored_counts() == (before_counts[0] + 1, before_counts[1])
    [stored] = scene.events_after(before_version)
    assert stored["id"] == answer["id"] and stored["version"] == answer["version"]
    assert stored["type"] == body["type"]
    assert stored["occurred_on"] == body["occurred_on"].strip()
    assert stored["date_precision"] == (body.get("date_precision") or "day")
    assert stored["data"] == expected_payload(CATALOGUE[body["type"]], body["data"], scene.types)
    scene.types[answer["id"]] = body["type"]
    return r


# --- the tests ----------------------------------------------------------------------------------------


def test_hostile_events_get_201_or_4xx_and_4xx_stores_nothing(scene: Scene) -> None:
    statuses: Counter = Counter()

    @EXAMPLES
    @given(case=hostile_bodies())
    def run(case: tuple[str, Any]) -> None:
        how, body = case
        event(f"mutation {how.split(':')[0]}")
        event(f"type {body.get('type') if isinstance(body, dict) else '-'}")
        r = attack(scene, body)
        statuses[r.status_code // 100 * 100] += 1
        if how == "none":
            # case_opened is refused after version 1 whatever its payload; every other valid body is stored.
            expected = 422 if body["type"] == "case_opened" else 201
            assert r.status_code == expected, (body, r.get_json())
        else:
            assert r.status_code != 201, (how, body)

    run()
    assert statuses[200] > 0 and statuses[400] > 0, statuses


def test_valid_events_built_from_the_catalogue_are_stored_and_read_back_equal(scene: Scene) -> None:
    @settings(EXAMPLES, max_examples=30)
    @given(body=legal_bodies([t for t in WRITABLE if t != "case_opened"]))
    def run(body: dict[str, Any]) -> None:
        event(f"type {body['type']}")
        r = attack(scene, body)
        assert r.status_code == 201, (body, r.get_json())

    run()


@st.composite
def case_bodies(draw: Any) -> tuple[str, Any]:
    """A POST /cases body: the case_opened fields plus optional occurred_on, valid or with one bad thing."""
    opened = CATALOGUE["case_opened"]
    body = draw(legal_payload(opened))
    if draw(st.booleans()):
        body["occurred_on"] = draw(padded(PAST_DAYS.map(date.isoformat)))
    if draw(st.booleans()):
        body["date_precision"] = draw(st.sampled_from(["day", "month", "year"]))
    how = draw(
        st.sampled_from(["none"] * 4 + ["field", "drop", "occurred_on", "precision", "unknown", "array"])
    )
    if how == "field":
        f = draw(st.sampled_from(opened.fields))
        body[f.name] = draw(bad_value(f))
    elif how == "drop":
        body.pop(draw(st.sampled_from(opened.required_fields)))
    elif how == "occurred_on":
        body["occurred_on"] = draw(st.sampled_from(BAD_DATES))
    elif how == "precision":
        body["date_precision"] = "week"
    elif how == "unknown":
        body[draw(st.sampled_from(["type", "id", "data", "Pseudonym"]))] = "x"
    elif how == "array":
        return how, [body]
    return how, body


def test_hostile_cases_get_201_or_4xx_and_4xx_opens_nothing(scene: Scene) -> None:
    statuses: Counter = Counter()

    @settings(EXAMPLES, max_examples=30)
    @given(case=case_bodies())
    def run(case: tuple[str, Any]) -> None:
        how, body = case
        event(f"mutation {how}")
        body = scene.resolve(body)
        before = scene.stored_counts()
        r = scene.post("/cases", json.dumps(body).encode())
        check_answer(r)
        statuses[r.status_code // 100 * 100] += 1
        if how != "none":
            assert r.status_code != 201, (how, body)
            assert scene.stored_counts() == before
            return
        assert r.status_code == 201, (body, r.get_json())
        assert scene.stored_counts() == (before[0] + 1, before[1] + 1)
        case_id = r.get_json()["id"]
        [opened] = scene.api.get(f"/cases/{case_id}/events").get_json()["events"]
        assert opened["type"] == "case_opened" and opened["version"] == 1
        fields = {k: v for k, v in body.items() if k not in ("occurred_on", "date_precision")}
        assert opened["data"] == expected_payload(CATALOGUE["case_opened"], fields, scene.types)
        if body.get("occurred_on") is not None:
            assert opened["occurred_on"] == body["occurred_on"].strip()
        assert opened["date_precision"] == body.get("date_precision", "day")

    run()
    assert statuses[200] > 0 and statuses[400] > 0, statuses


RAW_BODIES = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"type": "note_added", "data": ' * 50_000,
    b'{"data": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001,
    b'{"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "' + b"x" * 2_000_000 + b'"}}',
    b'{"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": 1' + b"0" * 5_000 + b"}}",
    b'{"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": NaN}}',
    b'{"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "\\ud800"}}',
    b'{"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "a\\u0000b"}}',
    b'{"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "\xff\xfe"}}',
    b'{"type": "note_added", "type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "\x00"}}',
    b"\xef\xbb\xbf{}",
    b"\x00\x01\x02",
    b"null",
]


def test_hostile_raw_bodies_are_refused_cleanly(scene: Scene) -> None:
    # One test for all of them: a fresh database per body would cost more than the bodies do.
    before = scene.stored_counts()
    for n, body in enumerate(RAW_BODIES):
        for path in (f"/cases/{scene.case_id}/events", "/cases"):
            r = scene.post(path, body)
            check_answer(r)
            assert r.status_code != 201, (n, path)
    assert scene.stored_counts() == before
