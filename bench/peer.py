"""The peer: the `eventsourcing` library's application and recorders doing the tracker's storage work.

Runs inside the peer's own virtual environment (made by peer_env.py), never the project's. Prints one
JSON object with the timings (seconds) of:
  single   one event appended per transaction to an existing aggregate: repository.get (replay),
           trigger one event, save (the library's usual command flow)
  batch    a new aggregate of 50 events saved in one transaction
  read     repository.get of one 50-event aggregate

    python peer.py --engine postgres --dbname tracker_bench --host 127.0.0.1 --user postgres
    python peer.py --engine sqlite --path /tmp/peer.db
"""

from __future__ import annotations

import argparse
import json
import time
from importlib.metadata import version
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

NOTE = "Called from a new number; the landlord asked for his registration papers again."


class Case(Aggregate):
    """A case as the peer would hold it: a pseudonym and a count of notes."""

    @event("Opened")
    def __init__(self, pseudonym: str) -> None:
        self.pseudonym = pseudonym
        self.notes = 0

    @event("NoteAdded")
    def add_note(self, text: str, occurred_on: str) -> None:
        self.notes += 1


class Cases(Application):  # type: ignore[type-arg]
    """The peer application; its events table is `cases_events`."""


def _timed(samples: list[float], call: Any) -> Any:
    t0 = time.perf_counter()
    out = call()
    samples.append(time.perf_counter() - t0)
    return out


def run(app: Cases, singles: int, aggregates: int, batches: int, reads: int) -> dict[str, Any]:
    # Aggregates of about 20 events, like the tracker's cases, to append single events to.
    ids = []
    for n in range(aggregates):
        case = Case(f"Peer {n}")
        for _ in range(19):
            case.add_note(NOTE, "2025-01-01")
        app.save(case)
        ids.append(case.id)

    single: list[float] = []
    start = time.perf_counter()
    for i in range(singles):

        def one(i: int = i) -> None:
            case = app.repository.get(ids[i % len(ids)])
            case.add_note(NOTE, "2025-01-01")
            app.save(case)

        _timed(single, one)
    single_wall = time.perf_counter() - start

    batch: list[float] = []
    newest = None
    start = time.perf_counter()
    for n in range(batches):

        def fifty(n: int = n) -> Any:
            case = Case(f"Batch {n}")
            for _ in range(49):
                case.add_note(NOTE, "2025-01-01")
            app.save(case)
            return case.id

        newest = _timed(batch, fifty)
    batch_wall = time.perf_counter() - start

    read: list[float] = []
    for _ in range(reads):
        case = _timed(read, lambda: app.repository.get(newest))
    assert case.version == 50
    return {
        "single": single,
        "single_wall": single_wall,
        "batch": batch,
        "batch_wall": batch_wall,
        "read": read,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="eventsourcing peer benchmark")
    parser.add_argument("--engine", choices=("sqlite", "postgres"), required=True)
    parser.add_argument("--path", help="SQLite database file")
    parser.add_argument("--dbname")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--password", default="")
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--reads", type=int, default=300)
    args = parser.parse_args()
    if args.engine == "sqlite":
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": args.path}
    else:
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": args.dbname,
            "POSTGRES_HOST": args.host,
            "POSTGRES_PORT": str(args.port),
            "POSTGRES_USER": args.user,
            "POSTGRES_PASSWORD": args.password,
        }
    app = Cases(env=env)
    result = run(app, args.singles, max(1, args.singles // 2), args.batches, args.reads)
    result["version"] = version("eventsourcing")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
