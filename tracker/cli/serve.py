"""tracker serve"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from tracker.cli import key_checked

log = logging.getLogger(__name__)


def metrics_folder(instance: Path, port: int) -> Path:
    """A fresh folder for the worker processes' metric files (PROMETHEUS_MULTIPROC_DIR).

    One per port, so two servers on one instance folder keep their numbers apart; emptied at start,
    as prometheus-client asks, so a restart begins from zero like a single process would.
    """
    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or instance / "metrics" / str(port))
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink()
    return folder


def _json_gunicorn_logger() -> type:
    from gunicorn.glogging import Logger

    from tracker.ops.logs import JsonFormatter

    class JsonLogger(Logger):
        """Gunicorn's own messages (start, workers, errors) as JSON lines too."""

        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())

    return JsonLogger


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers", default=None, type=click.IntRange(1, 64), help="Worker processes (config SERVE_WORKERS)."
)
@click.option(
    "--with-scheduler",
    is_flag=True,
    help="Also run the deadline scheduler, as a process of the server's own (see docs/scheduler.md).",
)
@with_appcontext
@key_checked
def serve(host: str, port: int, workers: int | None, with_scheduler: bool) -> None:
    """Serve the web UI and the API with gunicorn."""
    from gunicorn.app.base import BaseApplication

    from tracker.ops import logs

    config = current_app.config
    count = workers or config["SERVE_WORKERS"]
    log_format = logs.configure(config, default="json")
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": count,
        "threads": config["SERVE_THREADS"],
        "worker_class": "gthread",
        # The application logs one line per request itself, with its request id and duration.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "timeout": 60,
        "graceful_timeout": 10,
        # Gunicorn's control socket is one path per user: a second server on the host would take it.
        "control_socket_disable": True,
        # Gunicorn's largest request line, so that a URL past MAX_URL_LENGTH (4096 by default) reaches
        # the application and gets its 414 (JSON on the API); past this one, gunicorn answers 400.
        "limit_request_line": 8190,
    }
    if log_format == "json":
        options["logger_class"] = _json_gunicorn_logger()
    if count > 1 or with_scheduler:
        if "prometheus_client" in sys.modules:
            # Its storage was chosen already: /metrics would show one worker's numbers only.
            log.warning("metrics cover one worker only: prometheus_client was imported before serve")
        folder = metrics_folder(Path(current_app.instance_path), port)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    scheduler = None
    if with_scheduler:
        from tracker.cli import runtime
        from tracker.cli.scheduler import check_settings
        from tracker.scheduler.process import SchedulerProcess

        check_settings(runtime())
        scheduler = SchedulerProcess()
        options["when_ready"] = lambda _arbiter: scheduler.start()
        options["on_exit"] = lambda _arbiter: scheduler.stop()
    # The master forks the workers: it must hold no database connection (nor any thread) then.
    current_app.extensions["tracker"].db.dispose()

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # older gunicorn versions lack some settings
                    self.cfg.set(key, value)

        def load(self) -> Any:
            from tracker import create_app

            return create_app()

        def run(self) -> None:
            try:
                _arbiter(scheduler)(self).run()
            except RuntimeError as exc:  # as gunicorn's own run() answers a bad bind address
                click.echo(f"Error: {exc}", err=True)
                sys.exit(1)

    Server().run()


def _arbiter(scheduler: Any) -> type:
    """gunicorn's master loop, which also keeps the scheduler's process running (once a second)."""
    from gunicorn.arbiter import Arbiter

    class TrackerArbiter(Arbiter):
        def manage_workers(self) -> None:
            super().manage_workers()
            if scheduler is not None:
                scheduler.check()

    return TrackerArbiter


COMMANDS = [serve]
