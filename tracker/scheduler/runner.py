"""APScheduler 3 on the tracker's database: the job store, reconciling the job list, running."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Sequence
from datetime import UTC
from types import FrameType

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from tracker.clock import utc_now
from tracker.scheduler import jobs
from tracker.scheduler.jobs import JobSpec
from tracker.services.runtime import Runtime

log = logging.getLogger(__name__)
JOB_TABLE = "apscheduler_jobs"


def make_scheduler(rt: Runtime) -> BackgroundScheduler:
    """A scheduler whose jobs live in the apscheduler_jobs table (made by migration 0002)."""
    # Write transactions of the job store take SQLite's write lock up front, like the tracker's own.
    engine = rt.db.engine.execution_options(tracker_write=True)
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=UTC,
    )


def reconcile(scheduler: BackgroundScheduler, specs: Sequence[JobSpec], start_now: bool = True) -> None:
    """Make the stored jobs exactly the list: add or replace each, drop ids no longer listed."""
    wanted = {spec.id for spec in specs}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            log.info("removing job %s: no longer in the job list", job.id)
            job.remove()
    now = utc_now()
    for spec in specs:
        scheduler.add_job(
            spec.func,
            IntervalTrigger(seconds=spec.seconds, timezone=UTC),
            id=spec.id,
            name=spec.name,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            # At start, run at once: a scheduler that was down catches up now, not an interval later.
            next_run_time=now if start_now else None,
        )


def start(rt: Runtime) -> BackgroundScheduler:
    """Bind the jobs to this runtime and start them in a background thread."""
    jobs.bind(rt)
    scheduler = make_scheduler(rt)
    scheduler.start(paused=True)
    reconcile(scheduler, jobs.job_list(rt.settings))
    scheduler.resume()
    log.info("scheduler started: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    return scheduler


def stop(scheduler: BackgroundScheduler) -> None:
    """Stop the scheduler, letting a running job finish."""
    if scheduler.running:
        scheduler.shutdown(wait=True)
    jobs.bind(None)


def run_forever(rt: Runtime, parent: int | None = None) -> None:
    """Run the jobs until SIGTERM or SIGINT, or until process `parent` (if given) is gone."""
    stopping = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    scheduler = start(rt)
    try:
        while not stopping.wait(1.0):
            if parent is not None and os.getppid() != parent:
                log.warning("the server process %s is gone", parent)
                break
    finally:
        log.info("scheduler stopping")
        stop(scheduler)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
