"""Alembic environment: the URL comes from the tracker's configuration, never from alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tracker.db import Base, is_sqlite, make_engine
from tracker.models import import_all_tables

import_all_tables()
target_metadata = Base.metadata


def _url() -> str:
    url = context.config.attributes.get("url")
    if url:
        return str(url)
    from tracker.config import database_url, instance_path, load_settings

    return database_url(load_settings(), instance_path())


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=is_sqlite(url)
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
