"""Fixtures: an application on SQLite or PostgreSQL, users with tokens, a JSON client."""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from tracker import create_app
from tracker.migrate import upgrade

PG_URL = os.environ.get("TRACKER_TEST_DATABASE_URL", "")
DATA_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
PASSWORD = "correct-horse-battery-staple"
_pg_reason: str | None = None
_pg_template: str | None = None


def _pg_admin_engine() -> sa.Engine:
    return sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def pg_unavailable() -> str | None:
    """Why the PostgreSQL half of the suite cannot run, or None when it can."""
    global _pg_reason
    if not PG_URL:
        return "TRACKER_TEST_DATABASE_URL is not set: PostgreSQL tests skipped"
    if _pg_reason is None:
        try:
            engine = _pg_admin_engine()
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
            _pg_reason = ""
        except Exception as exc:  # any failure to connect means: skip with the reason
            _pg_reason = f"PostgreSQL at TRACKER_TEST_DATABASE_URL is not reachable: {exc.__class__.__name__}"
    return _pg_reason or None


def fresh_pg_database(migrated: bool = True) -> str:
    """A new empty (or migrated) database on the test server; dropped at the end of the session."""
    global _pg_template
    engine = _pg_admin_engine()
    name = f"tracker_t_{uuid.uuid4().hex[:12]}"
    url = sa.make_url(PG_URL).set(database=name)
    with engine.connect() as conn:
        if migrated:
            if _pg_template is None:
                template = f"tracker_tpl_{os.getpid()}"
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{template}"'))
                conn.execute(sa.text(f'CREATE DATABASE "{template}"'))
                upgrade(sa.make_url(PG_URL).set(database=template).render_as_string(hide_password=False))
                _pg_template = template
                _CREATED.append(template)
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"'))
        else:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    _CREATED.insert(0, name)
    return url.render_as_string(hide_password=False)


_CREATED: list[str] = []


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    if not _CREATED or not PG_URL:
        return
    engine = _pg_admin_engine()
    with engine.connect() as conn:
        for name in _CREATED:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Users made in-process get a cheap Argon2id hash: the production cost is not what tests check."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(
        "tracker.auth.users._hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture(params=["sqlite", "postgres"])
def engine_name(request: pytest.FixtureRequest) -> str:
    """Runs a test once per database engine."""
    if request.param == "postgres":
        reason = pg_unavailable()
        if reason:
            pytest.skip(reason)
    return str(request.param)


@pytest.fixture
def empty_db_url(engine_name: str, tmp_path: Any) -> str:
    """A database URL with no tables yet."""
    if engine_name == "postgres":
        return fresh_pg_database(migrated=False)
    return f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def db_url(engine_name: str, tmp_path: Any) -> str:
    """A migrated, empty database on the engine under test."""
    if engine_name == "postgres":
        return fresh_pg_database()
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    upgrade(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    upgrade(url)
    return url


def _make_app(url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> Any:
    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path / "instance"))
    for key in list(os.environ):
        if key.startswith("TRACKER_") and key not in ("TRACKER_INSTANCE_PATH", "TRACKER_TEST_DATABASE_URL"):
            monkeypatch.delenv(key)
    app = create_app({"DATABASE_URL": url, "DATA_KEY": DATA_KEY, "SECRET_KEY": "test-secret", **extra})
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The application on the engine under test."""
    application = _make_app(db_url, tmp_path, monkeypatch)
    yield application
    application.extensions["tracker"].db.dispose()


@pytest.fixture
def sqlite_app(sqlite_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The application on SQLite only (for tests of the API and UI, not of the engine)."""
    application = _make_app(sqlite_url, tmp_path, monkeypatch)
    yield application
    application.extensions["tracker"].db.dispose()


@pytest.fixture
def rt(app: Any) -> Any:
    return app.extensions["tracker"]


@pytest.fixture
def today(rt: Any) -> date:
    """The runtime's today (its clock, in the organization's time zone)."""
    return rt.today()


@pytest.fixture
def staff(app: Any) -> dict[str, Json]:
    """Cheap users with API tokens: caseworkers, a supervisor, an auditor (tests/alertkit.py)."""
    from alertkit import staff as make_staff

    return make_staff(app)


class Json:
    """A JSON client for one token."""

    def __init__(self, client: Any, token: str | None) -> None:
        self.client = client
        self.token = token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get("/api/v1" + path, query_string=params, headers=self._headers())

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.client.post("/api/v1" + path, json=body, headers=self._headers(), **kw)


@pytest.fixture
def make_user(request: pytest.FixtureRequest) -> Any:
    """A factory: make_user(name, role, app=None) -> token, on the test's application."""

    def make(name: str, role: str, application: Any = None) -> str:
        application = application or request.getfixturevalue("app")
        from tracker.auth.users import create_user, issue_token

        rt = application.extensions["tracker"]
        with rt.db.write() as session:
            create_user(session, name, role, PASSWORD)
            return issue_token(session, name)

    return make


@pytest.fixture
def api_for(request: pytest.FixtureRequest) -> Any:
    """A factory: api_for(app, role_or_name) -> Json client of a new user with that role."""

    def make(application: Any, role: str, name: str | None = None) -> Json:
        from tracker.auth.users import create_user, issue_token

        rt = application.extensions["tracker"]
        username = name or f"{role[:4]}{uuid.uuid4().hex[:6]}"
        with rt.db.write() as session:
            create_user(session, username, role, PASSWORD)
            token = issue_token(session, username)
        client = Json(application.test_client(), token)
        client.username = username  # type: ignore[attr-defined]
        return client

    return make


def open_case(api: Json, pseudonym: str = "Sparrow", occurred_on: str = "2022-09-25", **fields: Any) -> str:
    body = {
        "pseudonym": pseudonym,
        "citizenship": "RU",
        "category": "mobilization_evader",
        "occurred_on": occurred_on,
        **fields,
    }
    r = api.post("/cases", body)
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["id"])


def add_event(api: Json, case_id: str, type_: str, occurred_on: str, data: dict, **extra: Any) -> dict:
    r = api.post(
        f"/cases/{case_id}/events", {"type": type_, "occurred_on": occurred_on, "data": data, **extra}
    )
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo, migrated and loaded once per module (tests/browser/webkit.py), for `demo_app` to copy."""
    from browser.webkit import demo_template

    return demo_template(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def demo_app(template: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A copy of the demo of this module, for one test."""
    from browser.webkit import copy_app

    app = copy_app(template, tmp_path, monkeypatch)
    yield app
    app.extensions["tracker"].db.dispose()
