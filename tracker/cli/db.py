"""tracker db upgrade | downgrade | current | checkpoint"""

from __future__ import annotations

import click
from alembic.util import CommandError
from flask import current_app
from flask.cli import with_appcontext

from tracker import migrate
from tracker.config import ConfigError


def _url() -> str:
    url: str = current_app.config["DATABASE_URL"]
    return url


def _check_sqlite_dir(url: str) -> None:
    from pathlib import Path

    from sqlalchemy import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).parent
        if not folder.is_dir():
            raise ConfigError(
                f"database error: unable to open database file {parsed.database}: no directory {folder}"
            )


@click.group("db")
def db() -> None:
    """Database migrations (the only way tables are made)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    _check_sqlite_dir(_url())
    try:
        migrate.upgrade(_url(), revision)
    except CommandError as exc:  # an unknown or ambiguous revision
        raise click.ClickException(f"cannot upgrade to {revision}: {exc}") from None
    click.echo(f"database at {migrate.current_revision(_url()) or 'base'}")


@db.command("downgrade")
@click.argument("revision", default="-1")
@with_appcontext
def downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (default: one step; `base` removes every table)."""
    _check_sqlite_dir(_url())
    try:
        migrate.downgrade(_url(), revision)
    except CommandError as exc:  # an unknown or ambiguous revision
        raise click.ClickException(f"cannot downgrade to {revision}: {exc}") from None
    click.echo(f"database at {migrate.current_revision(_url()) or 'base'}")


@db.command("current")
@with_appcontext
def current() -> None:
    """Show the database's migration revision and the newest one."""
    click.echo(
        f"database at {migrate.current_revision(_url()) or 'base'}; head is {migrate.head_revision(_url())}"
    )


@db.command("checkpoint")
@click.option(
    "--wait",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds to wait for readers.",
)
@with_appcontext
def checkpoint(wait: float) -> None:
    """Empty SQLite's write-ahead log into the database file (finishes an erasure's cleanup)."""
    from tracker.cli import runtime
    from tracker.services import erasure

    if not erasure.checkpoint(runtime(), wait=wait):
        raise click.ClickException(
            "other connections are still reading: the write-ahead log was not emptied; "
            "close them (or stop the server) and run `tracker db checkpoint` again"
        )
    click.echo("write-ahead log emptied" if runtime().db.sqlite else "nothing to do on PostgreSQL")


COMMANDS = [db]
