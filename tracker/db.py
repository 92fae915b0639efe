"""Engine, metadata with a naming convention, and units of work."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from tracker.config import ConfigError

if TYPE_CHECKING:
    import psycopg

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    if TYPE_CHECKING:
        # Every class here is mapped to a Table; SQLAlchemy types the attribute as any FromClause.
        __table__: ClassVar[sa.Table]


def is_sqlite(url: str | sa.URL) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    """An engine; on SQLite with WAL, a busy timeout, and BEGIN IMMEDIATE for write units."""
    # A database error's message (which reaches the logs) never shows the values of its query: they
    # may be what someone typed into the sign-in form, or personal data.
    kwargs.setdefault("hide_parameters", True)
    try:
        return _make_engine(url, **kwargs)
    except ImportError as exc:
        # psycopg (version 3) is the driver the tracker names; `postgresql://` alone means psycopg2,
        # which the message below steers away from.
        if (exc.name or "").split(".")[0] == "psycopg":
            raise ConfigError(
                "PostgreSQL needs the psycopg driver, which is not installed: install the tracker with its "
                "postgres extra (pip install 'tracker[postgres]')"
            ) from None
        raise ConfigError(
            f"TRACKER_DATABASE_URL is not a database URL the tracker can use ({exc.__class__.__name__}); "
            "use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/NAME"
        ) from None
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigError(
            f"TRACKER_DATABASE_URL is not a database URL the tracker can use ({exc.__class__.__name__}); "
            "use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/NAME"
        ) from None


def _make_engine(url: str, **kwargs: Any) -> sa.Engine:
    if not is_sqlite(url):
        kwargs.setdefault("pool_pre_ping", True)
        return sa.create_engine(url, **kwargs)
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event own transactions (pysqlite's own handling defers them badly).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # Freed pages are zeroed, so destroyed keys and erased data leave no bytes behind.
        cur.execute("PRAGMA secure_delete=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # A writer takes the write lock up front: two deferred writers would otherwise deadlock.
        write = conn.get_execution_options().get("tracker_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def bulk_insert(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows (keyed by column name) in the session's transaction: COPY on PostgreSQL.

    psycopg parses every statement it sends, and a multi-row INSERT of thousands of rows costs more
    to parse than to run; COPY sends the rows as data.
    """
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(sa.insert(table), list(rows))
        return
    session.flush()
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    with (
        driver_connection(session).cursor() as cur,
        cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row([row[c] for c in columns])


def driver_connection(session: Session) -> psycopg.Connection[Any]:
    """psycopg's own connection under the session's, on PostgreSQL: for COPY and plain cursors."""
    raw = session.connection().connection.driver_connection
    if raw is None:  # only an invalidated connection has none, and a session never hands one out
        raise RuntimeError("the database connection was invalidated")
    return raw


def create_sqlite_file(url: str) -> None:
    """Make a missing SQLite database file, empty and readable by its owner only.

    SQLite would create it world-readable (0644 under the usual umask), and its -wal and -shm files
    take the database file's mode. An existing file, or one whose folder is missing, is left alone.
    """
    if not is_sqlite(url):
        return
    name = sa.make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    with suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def refresh_statistics(session: Session) -> None:
    """Let SQLite's planner know the tables' sizes (PostgreSQL's autovacuum does this by itself).

    Without statistics SQLite may read a whole index where one row per case would do; sampled at
    400 rows an index, this takes milliseconds whatever the size of the database.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text("PRAGMA analysis_limit=400"))
        session.execute(sa.text("ANALYZE"))


def plain_rows(session: Session, statement: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """The rows of a query of plain columns (text, numbers, dates, booleans) as tuples.

    On PostgreSQL straight from the driver's cursor: psycopg already gives Python values, and
    skipping SQLAlchemy's result processing halves the time of a scan of hundreds of thousands of rows.
    """
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return [tuple(row) for row in conn.execute(statement)]
    compiled = statement.compile(dialect=conn.dialect)
    with driver_connection(session).cursor() as cur:
        cur.execute(str(compiled), compiled.params)
        return list(cur.fetchall())


class Database:
    """The engine and session factory of one application."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)  # refuses a bad URL; connects only when used
        create_sqlite_file(url)
        self.sqlite = is_sqlite(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work that commits on success and rolls back on any error."""
        with self._sessions() as session:
            session.connection(execution_options={"tracker_write": True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work."""
        with self._sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()
