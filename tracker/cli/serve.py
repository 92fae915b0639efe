"""tracker serve"""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers", default=None, type=click.IntRange(1, 64), help="Worker processes (config SERVE_WORKERS)."
)
@click.option(
    "--with-scheduler",
    is_flag=True,
    help="Also run the deadline scheduler in this process (see docs/scheduler.md).",
)
@with_appcontext
def serve(host: str, port: int, workers: int | None, with_scheduler: bool) -> None:
    """Serve the web UI and the API with gunicorn."""
    from gunicorn.app.base import BaseApplication

    config = current_app.config
    options = {
        "bind": f"{host}:{port}",
        "workers": workers or config["SERVE_WORKERS"],
        "threads": config["SERVE_THREADS"],
        "worker_class": "gthread",
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "timeout": 60,
        "graceful_timeout": 10,
    }
    if with_scheduler:
        from tracker.cli import runtime
        from tracker.cli.scheduler import check_settings, configure_logging
        from tracker.scheduler.runner import gunicorn_hooks

        check_settings(runtime())
        configure_logging(runtime())
        options.update(gunicorn_hooks(runtime()))

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from tracker import create_app

            return create_app()

    Server().run()


COMMANDS = [serve]
