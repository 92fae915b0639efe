"""tracker user create | token | list"""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from tracker.auth.tables import ROLES, UserRow
from tracker.auth.users import UserError, create_user, issue_token
from tracker.cli import runtime


@click.group("user")
def user() -> None:
    """Users and API tokens."""


@user.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may see and do.")
@click.option("--email", default=None, help="Where alert e-mail goes.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of standard input."
)
@with_appcontext
def create(name: str, role: str, email: str | None, password_stdin: bool) -> None:
    """Create user NAME with a role; the password comes from stdin or a prompt."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UserError("no password on standard input")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with runtime().db.write() as session:
        create_user(session, name, role, password, email)
    click.echo(f"created {role} {name}")


@user.command("token")
@click.argument("name")
@click.option("--label", default=None, help="A name for the token, to tell it apart later.")
@with_appcontext
def token(name: str, label: str | None) -> None:
    """Print a new API token for NAME (shown once; only its hash is kept)."""
    with runtime().db.write() as session:
        value = issue_token(session, name, label)
    click.echo(value)


@user.command("list")
@with_appcontext
def list_users() -> None:
    """List users with their roles."""
    with runtime().db.read() as session:
        for row in session.scalars(sa.select(UserRow).order_by(UserRow.username)):
            click.echo(f"{row.username}\t{row.role}\t{'active' if row.active else 'disabled'}")


COMMANDS = [user]
