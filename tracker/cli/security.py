"""tracker keys status | rotate | generate, tracker backup | restore, tracker audit export"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import click
from flask.cli import with_appcontext

from tracker.auth.users import Actor
from tracker.cli import key_checked, runtime
from tracker.config import new_data_key
from tracker.services import audit, keys
from tracker.services.backup import BackupError, restore_backup, write_backup

OPERATOR = Actor("operator", "admin")


@click.group("keys")
def keys_group() -> None:
    """Installation data keys: status and rotation (see docs/keys.md)."""


@keys_group.command("status")
@with_appcontext
def status() -> None:
    """Show how many case keys are wrapped under each installation key id."""
    rt = runtime()
    rows = keys.key_status(rt)
    for c in rows:
        role = "current" if c.current else "old, configured" if c.known else "old, NOT configured"
        click.echo(f"{c.kek_id}\t{c.cases} cases\t{role}")
    left = sum(c.cases for c in rows if not c.current)
    outside = keys.outside_keyring(rt)
    ring = rt.keyring_file.current()
    click.echo(f"keyring {ring.id if ring else '(none yet)'} at {rt.keyring_file.path}")
    for name, n in sorted(outside.items(), key=lambda item: item[0] or ""):
        where = f"under keyring {name}, which is not there" if name else "from before keyrings"
        click.echo(f"{n} case keys {where}: run `tracker keys rotate`")
    unknown = keys.erasures_not_in_keyring(rt)
    if unknown:
        click.echo(
            f"{unknown} erased cases are not yet destroyed in this keyring (a cut-off erasure, or a copy "
            "of the keyring that is not the one the erasing process used): run `tracker keys rotate`"
        )
    click.echo(
        f"{left} case keys still wrapped under an old key: run `tracker keys rotate`"
        if left
        else "every case key is wrapped under the current key; old keys can be destroyed"
    )


@keys_group.command("rotate")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=200, show_default=True)
@with_appcontext
@key_checked
def rotate(batch_size: int) -> None:
    """Re-wrap every case key under TRACKER_DATA_KEY (old keys from TRACKER_OLD_DATA_KEYS); resumable."""
    rt = runtime()
    total = keys.pending(rt)
    label = f"re-wrapping {total} case keys"
    if sys.stderr.isatty() and total:
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            done = keys.rotate(rt, OPERATOR, batch_size, bar.update)
    else:
        done = keys.rotate(rt, OPERATOR, batch_size)
    click.echo(
        f"re-wrapped {done} case keys; every case key is now under key {rt.kek_id}; "
        "the old installation keys can be destroyed (see docs/keys.md)"
    )


@keys_group.command("generate")
def generate() -> None:
    """Print a new random installation key (32 bytes, URL-safe base64) for TRACKER_DATA_KEY."""
    click.echo(new_data_key())


@click.command("backup")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The backup file to write (readable by its owner only).",
)
@with_appcontext
def backup(output: Path) -> None:
    """Write an encrypted, authenticated backup of the whole database to a file."""
    tmp = output.with_name(output.name + ".part")
    try:
        # A leftover .part would keep its own, maybe looser, mode: remove it and make a new file.
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            counts = write_backup(runtime(), OPERATOR, fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    click.echo(
        f"backup written to {output}: {counts.get('events', 0)} events, {counts.get('users', 0)} users; "
        f"it opens only with installation key {runtime().kek_id}"
    )


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore(file: Path) -> None:
    """Restore a backup FILE into an empty, migrated database: all of it after every check, or nothing."""
    try:
        with open(file, "rb") as fh:
            done = restore_backup(runtime(), OPERATOR, fh, file.name)
    except BackupError as exc:
        raise click.ClickException(f"{file}: {exc}; nothing was restored") from None
    counts = done.counts
    click.echo(
        f"restored {counts.get('events', 0)} events and {counts.get('users', 0)} users from {file}; "
        "every chain verified, read models rebuilt"
    )
    if done.came_back_erased:
        click.echo(
            f"{len(done.came_back_erased)} cases were erased after this backup was made and came back "
            "erased (their keys are destroyed; `personal_data_erased` recorded again):"
        )
        for case_id, when in sorted(done.came_back_erased.items()):
            click.echo(f"  {case_id}\terased on {when}")


@click.group("audit")
def audit_group() -> None:
    """The organization-wide audit log."""


@audit_group.command("export")
@click.option("--action", type=click.Choice(audit.SHOWN_ACTIONS), default=None, help="Only this action.")
@click.option("--actor", default=None, help="Only what this user did.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="From this day (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="To this day, inclusive.")
@click.option("--format", "fmt", type=click.Choice(audit.FORMATS), default="jsonl", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@with_appcontext
def audit_export(
    action: str | None, actor: str | None, since: object, until: object, fmt: str, output: Path | None
) -> None:
    """Export audit records (oldest first) as JSON Lines or CSV; the export is itself recorded."""
    f = audit.AuditFilter(actor=actor, action=action, since=_day(since), until=_day(until))
    try:
        if output is None:
            audit.export_entries(runtime(), OPERATOR, f, sys.stdout, fmt)
            return
        # Like export and backup: a new file readable by its owner only, in place once complete.
        tmp = output.with_name(output.name + ".part")
        try:
            tmp.unlink(missing_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                count = audit.export_entries(runtime(), OPERATOR, f, fh, fmt)
            tmp.replace(output)
        finally:
            tmp.unlink(missing_ok=True)
    except audit.FilterError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"exported {count} audit records to {output}")


def _day(value: object) -> date | None:
    return value.date() if hasattr(value, "date") else None


COMMANDS = [keys_group, backup, restore, audit_group]
