"""tracker info, tracker --version"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import click
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from tracker.config import (
    ConfigError,
    DataKey,
    configured_data_key,
    database_url,
    instance_path,
    load_settings,
)


def version() -> str:
    """The installed distribution's version (from its metadata, as pip installed it)."""
    try:
        return metadata.version("tracker")
    except metadata.PackageNotFoundError:
        return "unknown (the tracker package is not installed)"


@click.command("info")
def info() -> None:
    """Show the version, instance folder, database, data key source, migrations and rules in force.

    Needs no working configuration: it says what is missing instead of refusing to start, and changes
    nothing (no key, folder or database file is made).
    """
    from tracker.deadlines.rules import DEFAULT_RULES_PATH

    settings = load_settings()
    instance = instance_path()
    url = database_url(settings, instance, create=False)
    rules = [DEFAULT_RULES_PATH] + ([Path(settings["DEADLINE_RULES"])] if settings["DEADLINE_RULES"] else [])
    rows = [
        ("version", version()),
        ("configuration", os.environ.get("TRACKER_CONFIG") or "built-in defaults and TRACKER_* variables"),
        ("instance folder", f"{instance}{'' if instance.is_dir() else ' (not made yet)'}"),
        ("database", sa.make_url(url).render_as_string(hide_password=True)),
    ]
    files = Path(settings["ATTACHMENTS_PATH"]) if settings["ATTACHMENTS_PATH"] else instance / "attachments"
    rows.append(("attachments", f"{files}{'' if files.is_dir() else ' (not made yet)'}"))
    try:
        key = configured_data_key(settings, instance, url)
    except ConfigError as exc:
        key = None
        rows.append(("data key", f"NONE: {exc}"))
    else:
        rows.append(("data key", _key_line(key, instance)))
    rows += _database_rows(url, key)
    rows.append(("rules files", ", ".join(f"{p}{'' if p.is_file() else ' (MISSING)'}" for p in rules)))
    width = max(len(name) for name, _value in rows)
    for name, value in rows:
        click.echo(f"{name.ljust(width)}  {value}")


def _key_line(key: DataKey | None, instance: Path) -> str:
    if key is None:
        return f"none yet: made in {instance / 'data_key'} on first start (SQLite only)"
    return f"{key.source}, fingerprint {key.fingerprint}"


def _database_rows(url: str, key: DataKey | None) -> list[tuple[str, str]]:
    from tracker import migrate
    from tracker.services.installation import fingerprint_at

    head = migrate.head_revision(url)
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        return [("migrations", f"no database file yet (`tracker db upgrade` makes it); head {head}")]
    try:
        current = migrate.current_revision(url)
        stored = fingerprint_at(url)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return [("migrations", f"database unreachable ({reason}); head {head}")]
    behind = "" if current == head else " (run `tracker db upgrade`)"
    rows = [("migrations", f"current {current or 'none'}, head {head}{behind}")]
    if stored is None:
        state = "no fingerprint stored yet: the first server or writer stores its own"
    elif key is not None and stored != key.fingerprint:
        state = (
            f"fingerprint {stored}: MISMATCH with this data key "
            "(unless that is an old key being rotated away, in TRACKER_OLD_DATA_KEYS)"
        )
    else:
        state = f"fingerprint {stored}" + (" (matches the data key)" if key else "")
    rows.append(("installation key", state))
    return rows


COMMANDS = [info]
