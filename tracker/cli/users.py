"""tracker user create | token | tokens | revoke-token | list"""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from tracker.auth.tables import ROLES, UserRow
from tracker.auth.users import Actor, UserError, create_user
from tracker.cli import runtime
from tracker.services import audit, tokens
from tracker.services.tokens import MAX_EXPIRY_DAYS

OPERATOR = Actor("operator", "admin")


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
        audit.record(session, OPERATOR.username, "user_created", name, {"role": role})
    click.echo(f"created {role} {name}")


@user.command("token")
@click.argument("name")
@click.option("--label", default=None, help="A name for the token, to tell it apart later.")
@click.option(
    "--expires-days",
    type=click.IntRange(1, MAX_EXPIRY_DAYS),
    default=None,
    help="Refuse the token this many days from now (default: never expires).",
)
@with_appcontext
def token(name: str, label: str | None, expires_days: int | None) -> None:
    """Print a new API token for NAME (shown once; only its hash is kept)."""
    _info, value = tokens.create_token(runtime(), OPERATOR, name, label, expires_days)
    click.echo(value)


@user.command("tokens")
@click.argument("name")
@with_appcontext
def list_tokens(name: str) -> None:
    """List NAME's API tokens: id, name, created, expires, state (never the token itself)."""
    for t in tokens.list_tokens(runtime(), OPERATOR, name):
        expires = t.expires_at.strftime("%Y-%m-%d %H:%M") if t.expires_at else "never"
        created = t.created_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"{t.id}\t{t.name or '-'}\t{created}\t{expires}\t{t.state}")


@user.command("revoke-token")
@click.argument("name")
@click.argument("token_id", type=int)
@with_appcontext
def revoke_token(name: str, token_id: int) -> None:
    """Revoke NAME's API token TOKEN_ID (the id shown by `tracker user tokens`)."""
    tokens.revoke_token(runtime(), OPERATOR, name, token_id)
    click.echo(f"revoked token {token_id} of {name}")


@user.command("calendar-token")
@click.argument("name")
@with_appcontext
def calendar_token(name: str) -> None:
    """Print the URL of a new calendar feed for NAME (the previous URL stops working)."""
    from tracker.services import calendar

    rt = runtime()
    click.echo(calendar.feed_url(rt, calendar.issue_token(rt, name, by="operator")))


@user.command("list")
@with_appcontext
def list_users() -> None:
    """List users with their roles."""
    with runtime().db.read() as session:
        for row in session.scalars(sa.select(UserRow).order_by(UserRow.username)):
            click.echo(f"{row.username}\t{row.role}\t{'active' if row.active else 'disabled'}")


COMMANDS = [user]
