"""The periodic jobs, with stable ids; each only calls a service.

The job store keeps jobs by reference ("tracker.scheduler.jobs:scan_deadlines"), so a job takes no
arguments and finds the runtime that the runner bound here when it started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from tracker.services import alerts
from tracker.services.runtime import Runtime

log = logging.getLogger(__name__)
MAIL_INTERVAL_SECONDS = 60
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


def job_list(settings: dict) -> list[JobSpec]:
    """Every periodic job of the tracker."""
    return [
        JobSpec(
            "deadlines.scan", scan_deadlines, int(settings["SCHEDULER_INTERVAL_SECONDS"]), "deadline pass"
        ),
        JobSpec("alerts.mail", send_mail, MAIL_INTERVAL_SECONDS, "alert e-mail and retries"),
    ]
