"""The search step: the case list's `q` through the blind index.

The imported cases are indexed by the import itself (its bulk path: each case's tokens computed in memory
and inserted with the case, executemany on SQLite, COPY on PostgreSQL). With `--search-cases N` larger
than `--cases`, the step first adds synthetic cases up to N by a fast path: their read-model rows
(status, assignment) and their index rows, the tokens made by the tracker's own tokenizer under the
installation's search key from a Cyrillic legal name, a phone and a passport number, inserted directly
(no events: search reads only the read models and the index). The queries are taken from the cases' own
values, as a caseworker would type them: the legal name (in Latin letters for a Cyrillic one), parts of
its words, a phone number in another format or its last seven digits, a document number without its
space, a part of a pseudonym.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from common import Timings, log, repeat

SAMPLED = 100
FIRST = (
    "Иван", "Алексей", "Сергей", "Дмитрий", "Андрей", "Михаил", "Никита", "Евгений", "Юрий", "Олег",
    "Павел", "Артём", "Максим", "Денис", "Роман", "Фёдор", "Григорий", "Кирилл", "Илья", "Тимур",
)  # fmt: skip
LAST = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
        "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
        "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв",
        "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв", "Сергеев", "Кузьмин", "Фролов",
        "Александров", "Дмитриев", "Королёв", "Гусев", "Киселёв", "Ильин", "Максимов", "Поляков",
        "Сорокин", "Виноградов", "Ковалёв", "Белов", "Медведев", "Антонов", "Тарасов")  # fmt: skip
FILL_CHUNK = 5000


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
    return typed


def step_search(b: Any) -> None:
    from service import admin

    from tracker.auth.users import Actor
    from tracker.services import reading

    log(f"{b.db.engine}: search through the blind index")
    typed = queries(b.rt, b.ids, b.args.seed)
    added = fill(b, b.args.search_cases)
    rng = random.Random(b.args.seed)
    typed += [q for values in rng.sample(added, min(len(added), 3 * SAMPLED)) for q in values]
    rng.shuffle(typed)
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
    size, cases = _count(b, "search_tokens"), _count(b, "case_status")
    b.latency_rows(
        "search GET /cases?q= (in-process, a supervisor)",
        t,
        floor,
        100.0,
        note=f"{len(typed)} queries from sampled cases (names, parts of names, phones, documents, "
        f"pseudonyms), {hit:.0%} found a case; {cases:,} cases ({len(added):,} of them added by the fast "
        f"path), {size:,} index rows; floor: one digest looked up",
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


def _count(b: Any, table: str) -> int:
    with b.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() or 0)


def fill(b: Any, total: int) -> list[tuple[str, ...]]:
    """Synthetic cases up to `total`, straight into the read models and the index; their queries."""
    import json
    import uuid

    from tracker.db import bulk_insert
    from tracker.projections.search import event_tokens
    from tracker.projections.tables import AssignmentRow, CaseRow, SearchTokenRow
    from tracker.search.normalize import fold

    have = _count(b, "case_status")
    if total <= have:
        return []
    log(f"{b.db.engine}: adding {total - have:,} synthetic cases to the read models and the index")
    rng = random.Random(b.args.seed + 1)
    with b.engine.connect() as conn:
        template = dict(conn.execute(sa.select(CaseRow.__table__).limit(1)).mappings().one())
    key, typed = b.rt.search_key, []
    for start in range(have, total, FILL_CHUNK):
        statuses, assignments, tokens = [], [], []
        for n in range(start, min(start + FILL_CHUNK, total)):
            case_id = str(uuid.uuid4())
            pseudonym = f"Fill {n:06d}"
            first, last = rng.choice(FIRST), rng.choice(LAST)
            digits = f"7{rng.randint(700, 799)}{rng.randint(1000000, 9999999)}"
            phone = f"+{digits[0]} {digits[1:4]} {digits[4:7]} {digits[7:9]} {digits[9:]}"
            number = f"75 {rng.randint(1000000, 9999999)}"
            statuses.append({**template, "case_id": case_id, "pseudonym": pseudonym,
                             "pseudonym_key": pseudonym.casefold(), "fold": json.dumps({})})  # fmt: skip
            assignments.append({"case_id": case_id, "username": f"cw{n % 20 + 1:02d}"})
            values = (
                ("case_opened", {"pseudonym": pseudonym, "legal_name": f"{last} {first}"}),
                ("contact_details_changed", {"phone": phone}),
                ("document_recorded", {"number": number}),
            )
            for type_name, data in values:
                tokens += event_tokens(key, case_id, str(uuid.uuid4()), type_name, data)
            latin = f"{fold(last).capitalize()} {fold(first).capitalize()}"
            written = f"8 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:]}"
            typed.append((latin, f"{last} {first[:3]}", written, digits[-7:], number.replace(" ", "")))
        with b.rt.db.write() as session:
            bulk_insert(session, CaseRow.__table__, statuses)
            bulk_insert(session, AssignmentRow.__table__, assignments)
            bulk_insert(session, SearchTokenRow.__table__, tokens)
    with b.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return typed
