"""The `tracker` command: one group per noun, on Flask's CLI."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup
from sqlalchemy.exc import DBAPIError, OperationalError

from tracker.auth.users import UserError
from tracker.config import ConfigError
from tracker.crypto.codec import CryptoError
from tracker.events.catalogue import ValidationError
from tracker.services.runtime import NotFound, Runtime


def _create_app() -> Flask:
    from tracker import create_app

    return create_app()


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["tracker"]
    return rt


F = TypeVar("F", bound=Callable[..., Any])


def key_checked(command: F) -> F:
    """For servers and commands that write cases (below `with_appcontext`): refuse to run with a data
    key that is not the installation's; the first one to run on a database records its key's fingerprint."""

    @functools.wraps(command)
    def checked(*args: Any, **kwargs: Any) -> Any:
        from tracker.services.installation import check_key

        check_key(runtime(), current_app.config["DATA_KEY_SOURCE"])
        return command(*args, **kwargs)

    return cast(F, checked)


class TrackerGroup(FlaskGroup):
    """Turns the errors a user can cause into one line on stderr and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (UserError, ConfigError, ValidationError, CryptoError) as exc:
            raise click.ClickException(str(exc)) from None
        except NotFound as exc:
            raise click.ClickException(f"no such case: {exc}") from None
        except OperationalError as exc:
            raise click.ClickException(f"database error: {_db_message(exc)}") from None
        except DBAPIError as exc:
            raise click.ClickException(f"database error: {_db_message(exc)}") from None

    def get_command(self, ctx: click.Context, name: str) -> Any:
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Every command is the group's own, so `--help` needs no application: it works, without a
        # traceback, even when the configuration or the rules file is bad.
        return click.Group.list_commands(self, ctx)


def _db_message(exc: DBAPIError) -> str:
    text = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    try:
        url = current_app.config.get("DATABASE_URL", "")
    except RuntimeError:
        url = ""
    from sqlalchemy import make_url

    shown = make_url(url).render_as_string(hide_password=True) if url else ""
    return f"{text} ({shown})" if shown else text


def _add_commands(group: click.Group) -> None:
    from tracker.cli import cases, db, info, scheduler, security, serve, users

    for module in (info, db, users, cases, serve, scheduler, security):
        for command in module.COMMANDS:
            group.add_command(command)


@click.group(
    cls=TrackerGroup,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
@click.version_option(package_name="tracker", prog_name="tracker", message="%(prog)s %(version)s")
def cli() -> None:
    """Event-sourced case tracker."""


_add_commands(cli)


def main() -> None:
    try:
        cli.main(prog_name="tracker")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
