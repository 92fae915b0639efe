"""The periodic jobs, with stable ids; each only calls a service.

The job store keeps jobs by reference ("tracker.scheduler.jobs:scan_deadlines"), so a job takes no
arguments and finds the runtime that the runner bound here when it started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from tracker.services import alerts, checkpoints
from tracker.services.runtime import Runtime

log = logging.getLogger(__name__)
MAIL_INTERVAL_SECONDS = 60
CHECKPOINT_INTERVAL_SECONDS = 24 * 3600
_bound: Runtime | None = None


@dataclass(frozen=True)
class JobSpec:
    """One periodic job: a stable id, what it calls, how often."""

    id: str
    func: Callable[[], None]
    seconds: int
    name: str


def bind(rt: Runtime | None) -> None:
    """Give the jobs of this process their runtime (None unbinds)."""
    global _bound
    _bound = rt


def _runtime() -> Runtime:
    if _bound is None:
        raise RuntimeError(
            "the scheduler's jobs run only inside `tracker scheduler` or `serve --with-scheduler`"
        )
    return _bound


def scan_deadlines() -> None:
    """A pass over the deadlines; skipped when another process is running one."""
    log.info("deadline pass starting")
    result = alerts.run_pass(_runtime(), wait=False)
    if result.skipped:
        log.info("deadline pass skipped: another pass is running")
    else:
        log.info("deadline pass finished: %d alerts created in %.2f s", result.created, result.seconds)


def send_mail() -> None:
    """Deliver due e-mail and retries between passes; skipped while another delivery runs."""
    alerts.deliver_mail(_runtime(), wait=False)


def make_checkpoint() -> None:
    """Sign the daily checkpoint of the store and mail it to the configured witnesses."""
    rt = _runtime()
    latest = checkpoints.get(rt)
    # Every job runs at once when a scheduler starts: a restart does not make another checkpoint that day.
    if latest is not None and rt.now() - latest.created_at < timedelta(hours=23):
        return
    made = checkpoints.make(rt)
    sent = checkpoints.mail(rt, made)
    log.info("checkpoint %d signed (%d cases), mailed to %d witnesses", made.id, made.content["cases"], sent)


def job_list(settings: dict) -> list[JobSpec]:
    """Every periodic job of the tracker."""
    return [
        JobSpec(
            "deadlines.scan", scan_deadlines, int(settings["SCHEDULER_INTERVAL_SECONDS"]), "deadline pass"
        ),
        JobSpec("alerts.mail", send_mail, MAIL_INTERVAL_SECONDS, "alert e-mail and retries"),
        JobSpec("store.checkpoint", make_checkpoint, CHECKPOINT_INTERVAL_SECONDS, "daily signed checkpoint"),
    ]
