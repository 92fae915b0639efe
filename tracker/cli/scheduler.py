"""tracker scheduler [--once]"""

from __future__ import annotations

import logging

import click
from flask.cli import with_appcontext

from tracker.cli import key_checked, runtime
from tracker.config import ConfigError
from tracker.services.runtime import Runtime


def check_settings(rt: Runtime) -> None:
    """Refuse to start with settings the scheduler cannot use; the message names the setting."""
    from tracker.alerts.mail import check_sender, parse_smtp_url

    interval = rt.settings.get("SCHEDULER_INTERVAL_SECONDS")
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
        raise ConfigError("SCHEDULER_INTERVAL_SECONDS must be a positive whole number")
    if rt.settings.get("SMTP_URL"):
        parse_smtp_url(str(rt.settings["SMTP_URL"]))
    check_sender(str(rt.settings.get("MAIL_FROM") or ""))


def configure_logging(rt: Runtime) -> None:
    level = str(rt.settings.get("LOG_LEVEL") or "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        # APScheduler logs every run of every job at INFO; the passes log what they did themselves.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run one pass (alerts, then e-mail) and exit.")
@with_appcontext
@key_checked
def scheduler(once: bool) -> None:
    """Scan deadlines and send alerts: every SCHEDULER_INTERVAL_SECONDS, or once."""
    from tracker.services import alerts

    rt = runtime()
    check_settings(rt)
    configure_logging(rt)
    if once:
        result = alerts.run_pass(rt)
        mail = result.mail
        click.echo(
            f"{result.created} alerts created over {result.deadlines} deadlines in the window; "
            f"e-mail: {mail.sent} sent, {mail.logged} logged, {mail.failed} to retry ({result.seconds:.2f} s)"
        )
        return
    from tracker.scheduler.runner import run_forever

    run_forever(rt)


COMMANDS = [scheduler]
