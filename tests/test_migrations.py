"""Alembic on every engine: up to head, down to base, up again; the schema matches the models."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import DBAPIError

from tracker.db import Base, make_engine
from tracker.migrate import current_revision, downgrade, head_revision, upgrade
from tracker.models import import_all_tables


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"sqlite_sequence"}
    finally:
        engine.dispose()


def triggers(url: str) -> set[str]:
    engine = make_engine(url)
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
        if engine.dialect.name == "sqlite"
        else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = 'events'::regclass"
    )
    try:
        with engine.connect() as conn:
            return set(conn.scalars(sa.text(query)))
    finally:
        engine.dispose()


def leftovers(url: str) -> set[str]:
    """Functions, sequences and views the migrations made that a downgrade should have removed."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                rows = conn.scalars(
                    sa.text("SELECT name FROM sqlite_master WHERE type IN ('trigger', 'view')")
                )
            else:
                rows = conn.scalars(
                    sa.text(
                        "SELECT proname FROM pg_proc JOIN pg_namespace n ON n.oid = pronamespace "
                        "WHERE nspname = 'public' UNION ALL "
                        "SELECT relname FROM pg_class JOIN pg_namespace n ON n.oid = relnamespace "
                        "WHERE nspname = 'public' AND relkind IN ('S', 'v', 'm')"
                    )
                )
            return set(rows)
    finally:
        engine.dispose()


def model_tables() -> set[str]:
    import_all_tables()
    return set(Base.metadata.tables)


def test_upgrade_downgrade_base_and_upgrade_again(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision(empty_db_url)
    assert tables(empty_db_url) == model_tables() | {"alembic_version"}

    downgrade(empty_db_url, "base")
    assert current_revision(empty_db_url) is None
    assert tables(empty_db_url) == {"alembic_version"}
    assert leftovers(empty_db_url) == set()

    upgrade(empty_db_url)
    assert tables(empty_db_url) == model_tables() | {"alembic_version"}
    assert current_revision(empty_db_url) == head_revision(empty_db_url)


def test_upgrade_creates_the_append_only_triggers(empty_db_url: str, engine_name: str) -> None:
    upgrade(empty_db_url)
    expected = (
        {"events_no_update", "events_no_delete"}
        if engine_name == "sqlite"
        else {"events_append_only", "events_no_truncate"}
    )
    assert triggers(empty_db_url) == expected


def test_the_triggers_work_again_after_a_round_trip(empty_db_url: str) -> None:
    from tracker.store.tables import EventRow

    upgrade(empty_db_url)
    downgrade(empty_db_url, "base")
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    row = {
        "id": "00000000-0000-4000-8000-000000000001",
        "case_id": "00000000-0000-4000-8000-000000000002",
        "version": 1,
        "type": "case_opened",
        "schema_version": 1,
        "occurred_on": date(2023, 1, 1),
        "date_precision": "day",
        "recorded_at": datetime(2023, 1, 1, tzinfo=UTC),
        "recorded_by": "ada",
        "data": "{}",
        "metadata": "{}",
        "hash": "0" * 64,
    }
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(EventRow.__table__).values(**row))
        for statement in ("UPDATE events SET version = 2", "DELETE FROM events"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_the_migrated_schema_matches_the_table_models(db_url: str) -> None:
    # A model changed without a migration (or the reverse) shows here, on each engine.
    engine = make_engine(db_url)
    import_all_tables()
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
