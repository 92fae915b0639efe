"""Imports every table module, so the metadata is complete for Alembic and the tests."""

from __future__ import annotations


def import_all_tables() -> None:
    import tracker.alerts.tables
    import tracker.auth.tables
    import tracker.projections.tables
    import tracker.store.installation
    import tracker.store.seals
    import tracker.store.tables  # noqa: F401
