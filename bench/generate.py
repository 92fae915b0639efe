"""Realistic import data for benchmarks: JSON Lines in the import format, deterministic for a seed.

Each line is one case with about 20 events on average, drawn from the event mix of the domain brief
(intake, service, movement, stays, documents, prosecution, detention, asylum, safety, support, notes,
corrections). Dates are placed relative to `today` so that stay, hearing, interview, appeal, document
and reminder deadlines fall inside their alert windows. The first line is a case of exactly
AS_OF_EVENTS events named AS_OF_PSEUDONYM, for `as_of` measurements.

    python bench/generate.py --cases 100000 --seed 1 -o bench/out/cases.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

AS_OF_PSEUDONYM = "Bench Two Hundred"
AS_OF_EVENTS = 200
CASEWORKERS = tuple(f"cw{n:02d}" for n in range(1, 21))
NAMES = (
    "Sparrow", "Falcon", "Birch", "Nomad", "Pilot", "Miner", "Teacher", "Runner", "Orion", "Tundra",
    "Volga", "Steppe", "Harbor", "Cedar", "Lynx", "Badger", "Comet", "Quarry", "Anchor", "Marten",
)  # fmt: skip
HOSTS = (("KZ", ("Astana", "Almaty", "Shymkent")), ("AM", ("Yerevan", "Gyumri")),
         ("GE", ("Tbilisi", "Batumi")), ("RS", ("Belgrade",)), ("TR", ("Istanbul",)),
         ("KG", ("Bishkek",)), ("MN", ("Ulaanbaatar",)))  # fmt: skip
ASYLUM = ("FR", "DE", "US")
FILLER = (
    ("contact_made", 30), ("note_added", 22), ("contact_details_changed", 10), ("threat_reported", 5),
    ("risk_assessed", 5), ("assistance_provided", 8), ("relatives_pressured", 4), ("referral_made", 3),
    ("relocated", 4), ("document_recorded", 3), ("travel_permit_requested", 2), ("reminder_set", 4),
)  # fmt: skip
NOTES = (
    "Called from a new number; asked about the status of his applications and about work permits.",
    "Relatives report another visit from the military enlistment office; nobody signed anything.",
    "Discussed options for an international passport; the consulate route is too dangerous.",
    "Sent the list of documents for the asylum file; he will collect certified translations.",
    "Feels watched near his flat; agreed to change the meeting place and to check in more often.",
)


class Story:
    """One case being written: events with dates that only move forward, refs as "#N"."""

    def __init__(self, rng: random.Random, today: date, start: date) -> None:
        self.rng, self.today, self.day = rng, today, start
        self.events: list[dict[str, Any]] = []

    def step(self, most: int = 20) -> str:
        """The next event's date: a few days after the last one, never after today."""
        self.day = min(self.today, self.day + timedelta(days=self.rng.randint(0, most)))
        return self.day.isoformat()

    def add(self, type_: str, data: dict[str, Any], on: str | None = None, precision: str = "day") -> str:
        event: dict[str, Any] = {"type": type_, "occurred_on": on or self.step(), "data": data}
        if precision != "day":
            event["date_precision"] = precision
        self.events.append(event)
        return f"#{len(self.events) + 1}"  # case_opened is #1

    def ahead(self, low: int, high: int) -> str:
        return (self.today + timedelta(days=self.rng.randint(low, high))).isoformat()


def _case(rng: random.Random, n: int, today: date, pseudonym: str | None = None) -> dict[str, Any]:
    opened = today - timedelta(days=rng.randint(60, 900))
    return {
        "pseudonym": pseudonym or f"{rng.choice(NAMES)} {n:06d}",
        "legal_name": f"Person {n:06d} {rng.choice(NAMES)}ov",
        "birth_year": rng.randint(1965, 2004),
        "citizenship": rng.choice(("RU", "RU", "RU", "BY")),
        "category": rng.choice(("deserter", "mobilization_evader", "refused_orders", "conscript", "other")),
        "contact_channel": rng.choice(("telegram", "signal", "phone", "in_person")),
        "referral_source": rng.choice(("hotline", "volunteer group", "lawyer", "friend")),
        "occurred_on": opened.isoformat(),
    }


def _core(s: Story, host: str, city: str) -> None:
    """The spine of a case: service, flight, stay, prosecution, protection, a check-in plan."""
    rng = s.rng
    s.add("caseworker_assigned", {"username": rng.choice(CASEWORKERS)})
    s.add(
        "service_recorded",
        {
            "status": rng.choice(("contract", "mobilized", "conscript")),
            "rank": "lieutenant",
            "unit": "unit 0" + str(rng.randint(1000, 9999)),
        },
    )
    s.add("left_service", {"how": rng.choice(("deserted", "awol", "refused_orders", "never_reported"))})
    s.add("fled_country", {"from_country": "RU", "to_country": host, "document_used": "internal_passport"})
    s.add(
        "stay_permitted",
        {"country": host, "kind": rng.choice(("visa_free", "registration")), "valid_until": s.ahead(-5, 45)},
    )
    s.add(
        "relocated",
        {
            "country": host,
            "city": city,
            "address": "flat 12, details with caseworker",
            "registered_at_address": rng.random() < 0.3,
        },
    )
    if rng.random() < 0.6:
        ref = s.add(
            "criminal_case_opened",
            {
                "country": "RU",
                "article": rng.choice(("337", "338", "332")),
                "max_sentence_years": rng.choice((10, 15)),
                "reference": f"No. {rng.randint(10000, 99999)}",
            },
        )
        if rng.random() < 0.3:
            s.add("charges_changed", {"criminal_case": ref, "article": "338", "max_sentence_years": 15})
        if rng.random() < 0.4:
            s.add("wanted_listed", {"country": "RU", "scope": rng.choice(("national", "interstate"))})
        if rng.random() < 0.3:
            s.add(
                "court_hearing_scheduled",
                {"criminal_case": ref, "court": "garrison court", "hearing_on": s.ahead(1, 20)},
            )
    if rng.random() < 0.08:
        s.add("detained", {"country": host, "place": "airport", "reason": "wanted list"})
        s.add("released", {"grounds": "military offences are not extraditable"}, on=s.step(5))
    country = rng.choice(ASYLUM)
    if rng.random() < 0.5:
        s.add("asylum_applied", {"country": country, "route": "embassy", "reference": "A-" + str(n_(rng))})
        roll = rng.random()
        if roll < 0.3:
            s.add("asylum_interview_scheduled", {"country": country, "interview_on": s.ahead(1, 14)})
        elif roll < 0.6:
            notified = (s.today - timedelta(days=rng.randint(0, 10))).isoformat()
            s.add(
                "asylum_decided",
                {"country": country, "outcome": "rejected", "procedure": "normal", "notified_on": notified},
                on=notified,
            )
            if rng.random() < 0.3:
                s.add("appeal_filed", {"country": country, "body": "appeal court"}, on=notified)
    if rng.random() < 0.3:
        s.add(
            "document_recorded",
            {
                "kind": "international_passport",
                "status": "held",
                "number": f"75 {rng.randint(1000000, 9999999)}",
                "valid_until": s.ahead(10, 90),
            },
        )
    s.add("check_in_plan_set", {"every_days": rng.choice((7, 14, 30))})


def n_(rng: random.Random) -> int:
    return rng.randint(100000, 999999)


def _filler(s: Story, type_: str, host: str) -> None:
    rng = s.rng
    data: dict[str, Any]
    if type_ == "contact_made":
        data = {"channel": rng.choice(("phone", "telegram", "in_person"))}
    elif type_ == "note_added":
        data = {"text": rng.choice(NOTES)}
    elif type_ == "contact_details_changed":
        data = {
            "phone": f"+7 7{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            "reason": "sim_changed",
        }
    elif type_ == "threat_reported":
        data = {"kind": rng.choice(("calls", "online", "surveillance")), "description": "calls at night"}
    elif type_ == "risk_assessed":
        data = {"level": rng.choice(("low", "medium", "high", "critical")), "reasons": "threats reported"}
    elif type_ == "assistance_provided":
        data = {
            "kind": rng.choice(("housing", "funds", "legal")),
            "amount": rng.randint(50, 500),
            "currency": "EUR",
        }
    elif type_ == "relatives_pressured":
        data = {"kind": rng.choice(("questioned", "searched", "threatened")), "who": "mother"}
    elif type_ == "referral_made":
        data = {"organization": "legal aid bureau"}
    elif type_ == "relocated":
        data = {"country": host, "city": rng.choice(dict(HOSTS)[host]), "address": "new flat"}
    elif type_ == "document_recorded":
        data = {"kind": "internal_passport", "status": rng.choice(("held", "confiscated", "lost"))}
    elif type_ == "travel_permit_requested":
        data = {"country": rng.choice(ASYLUM), "purpose": "asylum"}
    else:  # reminder_set
        data = {"title": "call about documents", "due_on": s.ahead(0, 7)}
    s.add(type_, data, on=s.step(6))


def make_case(rng: random.Random, n: int, today: date, events: int, pseudonym: str | None = None) -> dict:
    """One import line with exactly `events` events (case_opened included, at least 12)."""
    case = _case(rng, n, today, pseudonym)
    s = Story(rng, today, date.fromisoformat(case["occurred_on"]))
    host, cities = rng.choice(HOSTS)
    _core(s, host, rng.choice(cities))
    kinds, weights = zip(*FILLER, strict=True)
    while len(s.events) + 1 < events - 2:
        _filler(s, rng.choices(kinds, weights)[0], host)
    # Corrections and retractions of earlier notes or contacts, as a real record has them.
    targets = [i + 2 for i, e in enumerate(s.events) if e["type"] in ("note_added", "contact_made")]
    while len(s.events) + 1 < events:
        if targets and len(s.events) + 1 == events - 1 and rng.random() < 0.5:
            s.add("event_retracted", {"event_id": f"#{targets.pop()}", "reason": "recorded twice"})
        else:
            s.add("contact_made", {"channel": "phone"}, on=s.step(3))
    if rng.random() < 0.04:
        s.events[-1] = {
            "type": "case_closed",
            "occurred_on": s.events[-1]["occurred_on"],
            "data": {"outcome": rng.choice(("resettled", "lost_contact", "protection_granted"))},
        }
    return {"case": case, "events": s.events}


def event_count(rng: random.Random) -> int:
    """Events per case: 12 to 60, skewed, mean about 20."""
    return min(60, 12 + int(rng.expovariate(1 / 8.3)))


def generate(path: Path, cases: int, seed: int, today: date) -> int:
    """Write `cases` lines to `path`; returns the number of events (case_opened included)."""
    rng = random.Random(seed)
    total = 0
    with open(path, "w", encoding="utf-8") as out:
        for n in range(cases):
            if n == 0:
                line = make_case(rng, n, today, AS_OF_EVENTS, AS_OF_PSEUDONYM)
            else:
                line = make_case(rng, n, today, event_count(rng))
            total += 1 + len(line["events"])
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--today", type=date.fromisoformat, default=date.today(), help="YYYY-MM-DD")
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be at least 1")
    out = args.output or Path(__file__).parent / "out" / f"cases-{args.cases}-s{args.seed}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    events = generate(out, args.cases, args.seed, args.today)
    print(f"{out}: {args.cases} cases, {events} events", file=sys.stderr)


if __name__ == "__main__":
    main()
