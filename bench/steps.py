"""The measurements of one engine's run, one small function each, beside their raw floors."""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from pathlib import Path

import benchenv
import floors
import peer_env
import service
import web_load
from common import RATE, TIME, Row, Section, Timings, log
from search_step import step_search

LIST_QUERIES = (
    "status=open&country=KZ&deadline_within=30",
    "status=open&assigned=cw03",
    "q=falcon&status=open",
    "country=AM&deadline_within=14&limit=50",
)


class Bench:
    """One engine's run: the database, the section of results, the sizes of each step."""

    def __init__(self, db: benchenv.BenchDb, args: argparse.Namespace, section: Section) -> None:
        self.db, self.args, self.sec = db, args, section
        self.rt = db.rt
        self.engine = self.rt.db.engine
        self.scale = 2.0 if db.engine == "sqlite" else 1.0  # SQLite targets: within 2x
        self.raw, self.status = floors.scratch_tables(self.engine)
        self.ids = service.case_ids(self.rt, 5000)
        self.templates = floors.templates(self.engine, 2000)

    def rate_target(self, value: float) -> float:
        return value / self.scale

    def time_target(self, value: float) -> float:
        return value * self.scale

    def latency_rows(
        self, name: str, t: Timings, f: Timings | None, p95_target: float | None, note: str = ""
    ) -> None:
        self.sec.add(Row(f"{name} p50", "ms", TIME, t.p50_ms, f.p50_ms if f else None, note=note))
        target = self.time_target(p95_target) if p95_target else None
        self.sec.add(Row(f"{name} p95", "ms", TIME, t.p95_ms, f.p95_ms if f else None, target=target))


def step_import(b: Bench, data: Path, events: int) -> None:
    log(f"{b.db.engine}: tracker import of {data.name}")
    wall = benchenv.cli(b.db, "import", str(data))
    if b.db.engine == "postgres":
        with b.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    b.ids = service.case_ids(b.rt, 5000)
    b.templates = floors.templates(b.engine, 2000)
    rows, spent = floors.import_floor(b.engine, b.raw)
    b.sec.add(
        Row(
            "import (`tracker import`, CLI)",
            "events/s",
            RATE,
            events / wall,
            rows / spent,
            target=b.rate_target(20_000),
            note=f"{events:,} events in {wall:.1f} s, one transaction; floor: the stored rows "
            "inserted again with executemany in one transaction (events table only)",
        )
    )


def step_reads(b: Bench) -> None:
    log(f"{b.db.engine}: in-process reads")
    n = b.args.requests
    t, f = service.status_reads(b.rt, b.ids, n), floors.select_status(b.engine, b.ids, n)
    b.sec.add(
        Row(
            "case status read in-process (reading.get_case) p50",
            "ms",
            TIME,
            t.p50_ms,
            f.p50_ms,
            target=b.time_target(0.5),
            note="includes the access-log insert and commit every read "
            "makes; floor: SELECT of the case_status row by primary key",
        )
    )
    case = service.as_of_case(b.rt)
    t, f = service.as_of_reads(b.rt, case, 200), floors.select_stream(b.engine, case, 200)
    b.latency_rows("as_of on a 200-event case (in-process)", t, f, 30, "floor: SELECT of the 200 events")


def step_http(b: Bench) -> None:
    log(f"{b.db.engine}: tracker serve --workers 4 with 8 clients")
    server = web_load.Server(b.db.env, workers=4)
    try:
        server.wait_ready()
        for part in (http_appends, http_get_case, http_list, step_case_page):
            attempt(b, part.__name__, lambda part=part: part(b, server, b.args.requests, 8))
        time.sleep(0.5)
        b.sec.add(
            Row(
                "server peak memory (master + 4 workers, PSS)",
                "MB",
                TIME,
                server.peak_pss_mb,
                target=b.time_target(300),
                note="the memory the server takes from the machine: the processes' PSS (pages shared "
                "between the forked processes counted once) sampled every 0.2 s; their RSS added up, "
                f"shared pages counted in every process: {server.peak_mb:.0f} MB",
            )
        )
    finally:
        server.stop()


def attempt(b: Bench, name: str, call: Callable[[], None]) -> None:
    """Run one measurement; a failure becomes an n/a row so the other measurements still run."""
    try:
        call()
    except Exception as exc:
        text = str(exc).strip()
        message = text.splitlines()[-1][:200] if text else repr(exc)
        log(f"{b.db.engine}: {name} failed: {message}")
        b.sec.add(Row(f"`{name}`", "-", TIME, na=f"n/a (failed: {message})"))


def http_appends(b: Bench, server: web_load.Server, n: int, clients: int) -> None:
    today = b.rt.today().isoformat()
    t = web_load.appends(server.port, b.db.token, b.ids, today, n, clients)
    f = floors.concurrent_inserts(b.engine, b.raw, b.templates, n, clients)
    b.sec.add(
        Row(
            "API appends, 8 clients (POST /cases/{id}/events)",
            "events/s",
            RATE,
            t.per_second,
            f.per_second,
            note="floor: 8 threads each doing INSERT + COMMIT",
        )
    )
    b.latency_rows("API append latency", t, f, None)


def http_get_case(b: Bench, server: web_load.Server, n: int, clients: int) -> None:
    t = web_load.get_cases(server.port, b.db.token, b.ids, n, clients)
    f = floors.select_status(b.engine, b.ids, n)
    b.latency_rows("GET /cases/{id}, 8 clients", t, f, 10, "floor: one SELECT by primary key, 1 thread")


def http_list(b: Bench, server: web_load.Server, n: int, clients: int) -> None:
    t = web_load.list_cases(server.port, b.db.token, LIST_QUERIES, n, clients)
    f = floors.select_list(b.engine, b.rt.today(), "KZ", 30, n // 4)
    b.latency_rows(
        "GET /cases with filters, 8 clients",
        t,
        f,
        50,
        f"queries: {'; '.join(LIST_QUERIES)}; floor: the first one as 3 plain SELECTs",
    )


def step_case_page(b: Bench, server: web_load.Server, n: int, clients: int) -> None:
    rules = [r.rule for r in b.db.app.url_map.iter_rules() if not r.endpoint.startswith("api.")]
    if not any(r.startswith("/cases/<") and r.count("/") == 2 for r in rules):
        b.sec.add(Row("case page /cases/<id> p95", "ms", TIME, na="n/a (no such route yet)"))
        return
    headers = web_load.web_session(server.port, benchenv.ADMIN, benchenv.PASSWORD)
    if headers is None:
        b.sec.add(Row("case page /cases/<id> p95", "ms", TIME, na="n/a (web sign-in failed)"))
        return
    t = web_load.case_pages(server.port, headers, b.ids, n, clients)
    b.latency_rows("case page /cases/<id>, 8 clients", t, None, 50)


def step_appends(b: Bench) -> None:
    log(f"{b.db.engine}: in-process appends, batches, stream reads")
    a = b.args
    singles = service.single_appends(b.rt, b.ids, a.appends)
    lines = service.batch_lines(a.batches, b.rt.today())
    batches = service.batch_appends(b.rt, lines)
    reads = service.stream_reads(b.rt, service.newest_case_with(b.rt, 50), a.requests // 4)
    f_single = floors.single_inserts(b.engine, b.raw, b.templates, a.appends)
    f_batch = floors.batch_inserts(b.engine, b.raw, b.templates, a.batches)
    f_read = floors.select_stream(b.engine, service.newest_case_with(b.rt, 50), a.requests // 4)
    peer = None
    if not a.skip_peer:
        log(f"{b.db.engine}: the eventsourcing peer")
        peer = peer_env.run_peer(b.db.engine, b.db.url, a.appends, a.batches, a.requests // 4)
    p = (lambda key: Timings(peer[key], peer.get(f"{key}_wall") or sum(peer[key]))) if peer else None
    b.sec.add(
        Row(
            "single appends in-process (writing.record_event)",
            "events/s",
            RATE,
            singles.per_second,
            f_single.per_second,
            p("single").per_second if p else None,
            floor_ratio_target=0.5,
            not_slower_than_peer=True,
            note="one event per transaction on existing ~20-event "
            "cases; peer: repository.get + one event + save; floor: one INSERT + COMMIT",
        )
    )
    b.sec.add(
        Row(
            "single append latency p50",
            "ms",
            TIME,
            singles.p50_ms,
            f_single.p50_ms,
            p("single").p50_ms if p else None,
        )
    )
    b.sec.add(
        Row(
            "50-event batches in-process (transfer.import_file of one case)",
            "events/s",
            RATE,
            batches.per_second * 50,
            f_batch.per_second * 50,
            p("batch").per_second * 50 if p else None,
            floor_ratio_target=0.5,
            note="a new case of 50 events per transaction; peer: a new 50-event aggregate saved; "
            "floor: executemany of 50 rows + COMMIT",
        )
    )
    b.sec.add(
        Row(
            "read one 50-event stream (reading.case_events) p50",
            "ms",
            TIME,
            reads.p50_ms,
            f_read.p50_ms,
            p("read").p50_ms if p else None,
            note="tracker: decoded, sensitive fields opened, access logged; peer: repository.get; "
            "floor: SELECT of the 50 rows",
        )
    )
    if peer:
        b.sec.rows[-1].note += f"; peer is eventsourcing {peer['version']}"


def step_scheduler(b: Bench) -> None:
    probe = benchenv.cli_ok(b.db, "scheduler", "--help")
    if not probe:
        b.sec.add(
            Row("scheduler pass (`tracker scheduler --once`)", "s", TIME, na="n/a (no such command yet)")
        )
        return
    start_cost = benchenv.cli(b.db, "db", "current")
    floor = floors.scheduler_floor(b.engine, b.rt.today())
    for name, what in (
        ("first pass after the import", "every alert owed today is new (a first start, or catching up)"),
        ("steady pass", "the same day again: every owed alert exists already (the usual pass)"),
    ):
        log(f"{b.db.engine}: tracker scheduler --once ({name})")
        wall, out = benchenv.cli_output(b.db, "scheduler", "--once")
        # The command prints the pass's own time last, "(4.34 s)"; the rest is starting the process.
        found = re.search(r"\(([0-9.]+) s\)\s*$", out)
        seconds = float(found.group(1)) if found else wall
        b.sec.add(
            Row(
                f"scheduler {name} (`tracker scheduler --once`)",
                "s",
                TIME,
                seconds,
                floor,
                target=b.time_target(5),
                note=f"{what}; it printed: {out.strip()}; the pass as the command timed it; the whole "
                f"command took {wall:.2f} s, process start ({start_cost:.2f} s for `tracker db current`) "
                "included; floor: one SELECT of the active deadlines due within the widest lead window",
            )
        )


def step_rebuild(b: Bench) -> None:
    log(f"{b.db.engine}: tracker rebuild")
    wall = benchenv.cli(b.db, "rebuild")
    events, spent = floors.rebuild_floor(b.engine, b.status)
    b.sec.add(
        Row(
            "rebuild (`tracker rebuild`, CLI)",
            "events/s",
            RATE,
            events / wall,
            events / spent,
            target=b.rate_target(30_000),
            note=f"{events:,} events; floor: every event read in "
            "case order, one row written per case, a commit per 200 cases",
        )
    )


STEPS = {
    "reads": step_reads,
    "http": step_http,
    "appends": step_appends,
    "scheduler": step_scheduler,
    "rebuild": step_rebuild,
    "search": step_search,
}
