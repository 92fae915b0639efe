"""The scheduler as a process of its own beside gunicorn's workers (`tracker serve --with-scheduler`).

gunicorn's master forks its workers, and a fork copies whatever any other thread of the master holds
at that instant: an SQLite connection in the middle of a transaction, SQLite's own mutexes, Python
locks. The copies are never released, so a worker forked during a scheduler pass could wait 30 s on
every write, or hang for good. So the master runs no scheduler thread: it starts the scheduler as a
new interpreter (`python -m tracker.scheduler`, nothing inherited but the environment), checks it
once a second, starts it again if it ended, and stops it when the server stops.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import time
from contextlib import suppress

log = logging.getLogger(__name__)
#: The master's pid, given to the child: it stops when the server is gone, even after a SIGKILL.
PARENT_ENV = "TRACKER_SCHEDULER_PARENT"
MAX_RESTART_DELAY = 60.0
#: A child that ran this long was healthy: its next restart starts the back-off again.
HEALTHY_SECONDS = 60.0


def command() -> list[str]:
    """The scheduler child's command line: this interpreter, the tracker's scheduler module."""
    return [sys.executable, "-m", "tracker.scheduler"]


class SchedulerProcess:
    """One scheduler child of the server's master: started, watched, restarted, stopped."""

    def __init__(self, stop_seconds: float = 60.0) -> None:
        self.stop_seconds = stop_seconds
        self.proc: subprocess.Popen[bytes] | None = None
        # The read end of a pipe whose write end only the child holds: readable (end of file) once
        # the child is gone, whoever reaped it (gunicorn's master reaps every child it sees end).
        self._alive: int | None = None
        self._started = 0.0
        self._next_start = 0.0
        self._failures = 0
        self._stopping = False

    def start(self) -> None:
        read, write = os.pipe()
        env = dict(os.environ, **{PARENT_ENV: str(os.getpid())})
        try:
            # Its own session: a Ctrl-C in the terminal reaches the master, which stops it in order.
            self.proc = subprocess.Popen(
                command(), env=env, stdin=subprocess.DEVNULL, pass_fds=(write,), start_new_session=True
            )
        except OSError as exc:
            os.close(read)
            log.error("scheduler process could not start: %s", exc)
            self._after_end()
            return
        finally:
            os.close(write)
        self._alive = read
        self._started = time.monotonic()
        log.info("scheduler process started (pid %s)", self.proc.pid)

    def running(self) -> bool:
        if self.proc is None or self._alive is None:
            return False
        ready, _, _ = select.select([self._alive], [], [], 0)
        return not ready

    def check(self) -> None:
        """Start the child if it is not running and its back-off has passed (called every second)."""
        if self._stopping or self.running():
            return
        if self.proc is not None:
            code = self._reap()
            delay = self._after_end()
            status = "" if code is None else f" with exit status {code}"
            pid = self.proc.pid
            log.error("scheduler process (pid %s) ended%s; starting it again in %.0f s", pid, status, delay)
            self.proc = None
        if time.monotonic() >= self._next_start:
            self.start()

    def stop(self) -> None:
        """SIGTERM, then wait for a running job to finish (SIGKILL after `stop_seconds`)."""
        self._stopping = True
        proc = self.proc
        if proc is None:
            return
        if self.running():
            with suppress(ProcessLookupError):  # it may end between the check and the signal
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(self.stop_seconds)
            except subprocess.TimeoutExpired:
                log.error("scheduler process (pid %s) did not stop in time: killed", proc.pid)
                proc.kill()
                proc.wait()
        self._reap()
        self.proc = None

    def _reap(self) -> int | None:
        if self._alive is not None:
            os.close(self._alive)
            self._alive = None
        # None when gunicorn's master reaped it first: then its status is in gunicorn's own log line.
        assert self.proc is not None
        if self.proc.returncode is not None:  # reaped by wait(): its pid may be another child's now
            return self.proc.returncode
        try:
            pid, status = os.waitpid(self.proc.pid, os.WNOHANG)
        except ChildProcessError:
            return None
        return os.waitstatus_to_exitcode(status) if pid else None

    def _after_end(self) -> float:
        if time.monotonic() - self._started >= HEALTHY_SECONDS:
            self._failures = 0
        delay = min(MAX_RESTART_DELAY, float(2**self._failures))
        self._failures += 1
        self._next_start = time.monotonic() + delay
        return delay


def main() -> None:
    """`python -m tracker.scheduler`: the child's body; one line on stderr and exit 1 on bad settings."""
    from sqlalchemy.exc import SQLAlchemyError

    from tracker import create_app
    from tracker.config import ConfigError
    from tracker.ops import logs
    from tracker.scheduler.runner import run_forever

    parent = int(os.environ.pop(PARENT_ENV, "0") or 0) or None
    try:
        app = create_app()
        logs.configure(app.config, default="json")
        if str(app.config.get("LOG_LEVEL") or "INFO").upper() != "DEBUG":
            # APScheduler logs every run of every job at INFO; the passes log what they did themselves.
            logging.getLogger("apscheduler").setLevel(logging.WARNING)
        run_forever(app.extensions["tracker"], parent=parent)
    except (ConfigError, SQLAlchemyError) as exc:
        print(f"tracker scheduler: {str(exc).splitlines()[0]}", file=sys.stderr)
        # Exit 1 only: gunicorn's master stops the whole server when a child exits with 3 or 4.
        sys.exit(1)
