"""The search step: the case list's `q` through the blind index, at the size of the imported data.

The index is filled by the import itself (its bulk path: each case's tokens computed in memory and
inserted with the case, executemany on SQLite, COPY on PostgreSQL), so the step measures the index
the import built. The queries are taken from sampled cases' own decrypted values, as a caseworker
would type them: the legal name, a part of it, a phone number in another format or its last seven
digits, a document number without its space, a part of a pseudonym.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from common import Timings, log, repeat

SAMPLED = 100


def queries(rt: Any, ids: Sequence[str], seed: int) -> list[str]:
    """What people type to find the sampled cases, read back through the services."""
    from service import admin

    from tracker.services import reading

    rng = random.Random(seed)
    typed: list[str] = []
    for case_id in rng.sample(list(ids), min(SAMPLED, len(ids))):
        events = reading.case_events(rt, admin(), case_id, via="bench")
        opened = events[0]["data"]
        name = str(opened.get("legal_name") or "")
        if name:
            typed.append(name)
            typed.append(" ".join(w[: max(3, len(w) - 2)] for w in name.split()[1:]))
        typed.append(str(opened["pseudonym"])[1:6])
        for e in events:
            phone = e["data"].get("phone")
            if e["type"] == "contact_details_changed" and isinstance(phone, str):
                digits = re.sub(r"[^0-9]", "", phone)
                typed.append(f"8 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:]}")
                typed.append(digits[-7:])
            number = e["data"].get("number")
            if e["type"] == "document_recorded" and isinstance(number, str):
                typed.append(number.replace(" ", ""))
    rng.shuffle(typed)
    return typed


def step_search(b: Any) -> None:
    from service import admin

    from tracker.auth.users import Actor
    from tracker.services import reading

    log(f"{b.db.engine}: search through the blind index")
    typed = queries(b.rt, b.ids, b.args.seed)
    n = b.args.requests
    found = [0]

    def run(who: Any, q: str) -> None:
        cases, _ = reading.list_cases(b.rt, who, reading.CaseFilter(q=q, limit=50))
        found[0] += bool(cases)

    t = repeat(lambda i: run(admin(), typed[i % len(typed)]), n)
    hit = found[0] / len(t.samples)
    caseworker = Actor("cw03", "caseworker")
    own = repeat(lambda i: run(caseworker, typed[i % len(typed)]), n)
    common = repeat(lambda _i: run(admin(), "Person"), max(20, n // 20))
    floor = _floor(b, typed, n)
    size = _index_size(b)
    b.latency_rows(
        "search GET /cases?q= (in-process, a supervisor)",
        t,
        floor,
        100.0,
        note=f"{len(typed)} queries from {SAMPLED} sampled cases (names, parts of names, phones, documents, "
        f"pseudonyms), {hit:.0%} found their case; {size:,} index rows; floor: one digest looked up",
    )
    b.latency_rows("search, a caseworker (only cases assigned to cw03)", own, None, 100.0)
    b.latency_rows("search for a word every case holds (`Person`)", common, None, None)


def _floor(b: Any, typed: Sequence[str], n: int) -> Timings:
    from tracker.search.normalize import digest, query_tokens

    wanted = []
    for q in typed:
        every, any_of = query_tokens(q)
        wanted.append(digest(b.rt.search_key, (every or any_of)[0]))
    statement = sa.text("SELECT case_id FROM search_tokens WHERE digest = :d LIMIT 51")
    with b.engine.connect() as conn:
        return repeat(lambda i: conn.execute(statement, {"d": wanted[i % len(wanted)]}).all(), n)


def _index_size(b: Any) -> int:
    with b.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM search_tokens")).scalar() or 0)
