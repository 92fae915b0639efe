"""Helpers for the web tests that use Flask's test client: users, sign-in, CSRF tokens, demo data."""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tracker.auth.users import create_user

PASSWORD = "correct-horse-battery-staple"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def make_user(app: Any, name: str, role: str, password: str = PASSWORD) -> None:
    with app.extensions["tracker"].db.write() as session:
        create_user(session, name, role, password)


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1) or match.group(2)


def sign_in(client: Any, name: str, password: str = PASSWORD, code: str | None = None, **kw: Any) -> Any:
    """Post the sign-in form as a browser would (with the page's CSRF token)."""
    token = csrf_token(client.get("/login", **kw).get_data(as_text=True))
    data = {"username": name, "password": password, "csrf_token": token}
    if code is not None:
        data["code"] = code
    return client.post("/login", data=data, **kw)


def signed_in(app: Any, name: str, role: str, **kw: Any) -> Any:
    """A test client of a new user of that role, signed in."""
    make_user(app, name, role)
    client = app.test_client(**kw)
    response = sign_in(client, name)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def post_form(client: Any, path: str, data: dict[str, Any], page: str | None = None) -> Any:
    """Post to `path` with the CSRF token of `page` (default: `path` itself)."""
    token = csrf_token(client.get(page or path).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def load_demo(app: Any, password: str = PASSWORD) -> None:
    from tracker.services.demo import load_demo as load

    load(app.extensions["tracker"], password)


def case_id(app: Any, pseudonym: str) -> str:
    from tracker.auth.users import Actor
    from tracker.services.reading import CaseFilter, list_cases

    cases, _ = list_cases(app.extensions["tracker"], Actor("ada", "admin"), CaseFilter(q=pseudonym))
    return str(next(c["id"] for c in cases if c["pseudonym"] == pseudonym))


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# One installation key for the demo template and its copies: the copies' case keys are wrapped by it.
DATA_KEY = base64.urlsafe_b64encode(b"web-tests-installation-key-32-by").decode()


def make_app(db_file: Path, instance: Path, monkeypatch: Any, **settings: Any) -> Any:
    """An application on an SQLite file, with a clean TRACKER_* environment."""
    from tracker import create_app

    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(instance))
    for key in list(os.environ):
        if key.startswith("TRACKER_") and key not in ("TRACKER_INSTANCE_PATH", "TRACKER_TEST_DATABASE_URL"):
            monkeypatch.delenv(key)
    config = {"DATABASE_URL": f"sqlite:///{db_file}", "DATA_KEY": DATA_KEY, "SECRET_KEY": "web-tests"}
    app = create_app({**config, **settings})
    app.config["TESTING"] = True
    return app


def demo_template(folder: Path) -> Path:
    """An SQLite file with the migrations and the demo loaded, to copy for each test."""
    from tracker.migrate import upgrade

    db_file = folder / "demo.db"
    upgrade(f"sqlite:///{db_file}")
    mp = pytest.MonkeyPatch()
    try:
        app = make_app(db_file, folder / "instance", mp)
        load_demo(app)
        app.extensions["tracker"].db.dispose()
    finally:
        mp.undo()
    return db_file


def copy_app(template: Path, folder: Path, monkeypatch: Any) -> Any:
    """An application on a fresh copy of a template database."""
    target = folder / "tracker.db"
    shutil.copyfile(template, target)
    # The case keys open only with the template's keyring (kept outside the database) as well.
    (folder / "instance").mkdir(mode=0o700, exist_ok=True)
    shutil.copyfile(template.parent / "instance" / "keyring", folder / "instance" / "keyring")
    return make_app(target, folder / "instance", monkeypatch)
