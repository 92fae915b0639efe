"""What waits behind an import on PostgreSQL, and for how long.

    .venv/bin/python bench/append_lock.py                    # 100,000 events (5,000 cases of 20)
    .venv/bin/python bench/append_lock.py --events 20000

An import holds the append lock for its whole file (one transaction, all or nothing). Meanwhile this
bench records one event every 0.2 s into another case through the service layer with the default
APPEND_LOCK_TIMEOUT_SECONDS and prints: how long the import held the lock, how many of those writes were
refused with StoreBusy (the API's 503 with Retry-After), and the longest any write waited. The bench
creates and drops its own database `tracker_lock_bench`.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import threading
import time
from datetime import date
from pathlib import Path

if not sys.prefix.endswith(".venv"):
    venv = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"
    os.execv(venv, [str(venv), *sys.argv])

import sqlalchemy as sa

DB_NAME = "tracker_lock_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    from tracker import create_app
    from tracker.auth.users import Actor
    from tracker.domain.commands import EventInput
    from tracker.migrate import upgrade
    from tracker.services import transfer, writing
    from tracker.store.events import StoreBusy

    admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
    url = sa.make_url(args.pg_url).set(database=DB_NAME).render_as_string(hide_password=False)
    try:
        upgrade(url)
        os.environ["TRACKER_INSTANCE_PATH"] = str(Path(__file__).resolve().parent / "out" / "lock_instance")
        key = base64.urlsafe_b64encode(b"bench-append-lock-key-32-bytes!!").decode()
        app = create_app({"DATABASE_URL": url, "DATA_KEY": key, "SECRET_KEY": "bench"})
        rt = app.extensions["tracker"]
        actor = Actor("bench", "admin")
        opened = EventInput("case_opened", date(2022, 9, 1), "day",
                            {"pseudonym": "A", "citizenship": "RU", "category": "other"})  # fmt: skip
        case, _ = writing.open_case(rt, actor, opened)
        notes = [
            {"type": "note_added", "occurred_on": "2022-10-01", "data": {"text": f"n{i}"}} for i in range(19)
        ]
        line = json.dumps({"case": {"pseudonym": "Bulk", "citizenship": "RU", "category": "other",
                                    "occurred_on": "2022-09-01"}, "events": notes}) + "\n"  # fmt: skip
        text = line * (args.events // 20)
        held: list[float] = []

        def run_import() -> None:
            started = time.monotonic()
            transfer.import_file(rt, io.StringIO(text))
            held.append(time.monotonic() - started)

        importer = threading.Thread(target=run_import)
        importer.start()
        waits: list[tuple[str, float]] = []
        time.sleep(0.5)
        while importer.is_alive():
            started = time.monotonic()
            event = EventInput("contact_made", date(2022, 10, 1), "day", {})
            try:
                writing.record_event(rt, actor, case, event)
                waits.append(("recorded", time.monotonic() - started))
            except StoreBusy:
                waits.append(("busy", time.monotonic() - started))
            time.sleep(0.2)
        importer.join()
        busy = sum(1 for what, _ in waits if what == "busy")
        print(f"import of {args.events:,} events held the append lock for about {held[0]:.1f} s")
        print(f"{len(waits)} writes to another case meanwhile: {busy} refused (503, Retry-After), "
              f"{len(waits) - busy} recorded; the longest wait {max(s for _, s in waits):.2f} s "
              f"(APPEND_LOCK_TIMEOUT_SECONDS {rt.settings.get('APPEND_LOCK_TIMEOUT_SECONDS')})")  # fmt: skip
        rt.db.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
