"""Browser tests: Debian's chromium driven by Playwright against a server on loopback.

Most use `live`, the application on a werkzeug thread of the test process; `real_server` is
`tracker serve --with-scheduler` in processes of its own (gunicorn, its workers, the scheduler).
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from tracker import create_app
from tracker.migrate import upgrade

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "demo-password-for-tests"


def _install_chromium() -> str | None:
    """Install Debian's chromium when it is missing; the reason it is unavailable, or None."""
    if Path(CHROMIUM).exists():
        return None
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and apt-get is not available to install it"
    try:
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            subprocess.run(command, check=True, capture_output=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as exc:
        return f"{CHROMIUM} is missing and `apt-get install chromium` failed: {exc.__class__.__name__}"
    return None if Path(CHROMIUM).exists() else f"{CHROMIUM} is still missing after apt-get install"


@pytest.fixture(scope="session")
def chromium() -> str:
    reason = _install_chromium()
    if reason:
        pytest.skip(reason)
    return CHROMIUM


class LiveServer:
    """The tracker on a werkzeug server thread, with the demo loaded."""

    def __init__(self, app: Any, url: str) -> None:
        self.app = app
        self.url = url
        self.rt = app.extensions["tracker"]

    def case_id(self, pseudonym: str) -> str:
        from tracker.auth.users import Actor
        from tracker.services.reading import CaseFilter, list_cases

        cases, _ = list_cases(self.rt, Actor("ada", "admin"), CaseFilter(q=pseudonym))
        return str(next(c["id"] for c in cases if c["pseudonym"] == pseudonym))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from werkzeug.serving import make_server

    from tracker.services.demo import load_demo

    root = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{root / 'tracker.db'}"
    upgrade(url)
    mp = pytest.MonkeyPatch()
    mp.setenv("TRACKER_INSTANCE_PATH", str(root / "instance"))
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    app = create_app({"DATABASE_URL": url, "DATA_KEY": key, "SECRET_KEY": secrets.token_hex(16)})
    load_demo(app.extensions["tracker"], DEMO_PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        app.extensions["tracker"].db.dispose()
        mp.undo()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            yield instance
        finally:
            instance.close()


class Watch:
    """Console errors and 5xx answers seen by a page; some 4xx pages are expected and listed."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.server_errors: list[str] = []
        self.expected_status: set[int] = set()

    def console(self, message: Any) -> None:
        if message.type != "error":
            return
        text = message.text
        # A page answered 404/422/429 on purpose logs "Failed to load resource" for that answer.
        if "Failed to load resource" in text and any(f"status of {s}" in text for s in self.expected_status):
            return
        self.errors.append(text)

    def response(self, response: Any) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.url}")


@contextmanager
def _watched_page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    watch = Watch()
    tab.on("console", watch.console)
    tab.on("pageerror", lambda exc: watch.errors.append(f"page error: {exc}"))
    tab.on("response", watch.response)
    tab.watch = watch
    try:
        yield tab
    finally:
        context.close()
    assert not watch.server_errors, watch.server_errors
    assert not watch.errors, watch.errors


@pytest.fixture
def page(browser: Any, live: LiveServer) -> Iterator[Any]:
    """A fresh browser context (no cookies); fails the test on a console error or a 5xx answer."""
    with _watched_page(browser, live.url) as tab:
        yield tab


class RealServer:
    """`tracker serve --with-scheduler` in processes of its own, on the demo, as scripts/demo runs it."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """The demo's way: `tracker db upgrade`, `tracker demo`, then `tracker serve --with-scheduler`."""
    root = tmp_path_factory.mktemp("real")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "FLASK_", "PROMETHEUS_"))}
    env.update(
        TRACKER_INSTANCE_PATH=str(root / "instance"),
        TRACKER_DATABASE_URL=f"sqlite:///{root / 'tracker.db'}",
        TRACKER_DATA_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        TRACKER_SECRET_KEY=secrets.token_hex(16),
    )
    tracker = str(Path(sys.prefix) / "bin" / "tracker")
    for step in (["db", "upgrade"], ["demo", "--password", DEMO_PASSWORD]):
        done = subprocess.run([tracker, *step], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = root / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [tracker, "serve", "--port", str(port), "--workers", "2", "--with-scheduler"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RealServer(proc, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 60
        while not server.answers():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()


@pytest.fixture
def real_page(browser: Any, real_server: RealServer) -> Iterator[Any]:
    """Like `page`, on the real server."""
    with _watched_page(browser, real_server.url) as tab:
        yield tab


def _sign_in(tab: Any, username: str, password: str = DEMO_PASSWORD) -> None:
    tab.goto("/login")
    tab.fill("input[name=username]", username)
    tab.fill("input[name=password]", password)
    tab.click("main form button[type=submit]")
    tab.wait_for_load_state()


@pytest.fixture
def sign_in() -> Any:
    """sign_in(page, username, password=the demo password): through the real sign-in form."""
    return _sign_in
