"""The tracker as a user installs it: a wheel built from this checkout, installed into a fresh venv
outside it, and helpers to run its `tracker` command and servers with nothing of the checkout reachable.

The wheel and the venv are made once per test run, shared by the test processes of pytest-xdist (the
first one builds under a file lock, the others wait and reuse it).
"""

from __future__ import annotations

import fcntl
import hashlib
import http.cookiejar
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent
LOCK_FILE = CHECKOUT / "requirements" / "lock.txt"
# What the wheel is built from: the package and its metadata, nothing else of the checkout.
SOURCES = ("pyproject.toml", "README.md", "tracker")


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path

    @property
    def tracker(self) -> Path:
        return self.venv / "bin" / "tracker"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def _source_digest() -> str:
    digest = hashlib.sha256()
    for name in SOURCES:
        root = CHECKOUT / name
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(CHECKOUT)).encode() + b"\0" + path.read_bytes())
    digest.update(LOCK_FILE.read_bytes())
    return digest.hexdigest()[:16]


def _run(args: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{what} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def build_and_install(shared: Path) -> Installed:
    """The wheel of this checkout in a fresh venv under `shared`, made once per source and lock."""
    home = shared / f"wheel-{_source_digest()}"
    shared.mkdir(parents=True, exist_ok=True)
    with open(shared / "wheel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = home / "installed"
        if not done.exists():
            shutil.rmtree(home, ignore_errors=True)
            _build_and_install(home)
            done.touch()
    return Installed(home / "venv", next((home / "dist").glob("tracker-*.whl")))


def _build_and_install(home: Path) -> None:
    # Built from a copy, so that no build/ or .egg-info folder lands in the checkout.
    src = home / "src"
    src.mkdir(parents=True)
    for name in SOURCES:
        origin = CHECKOUT / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, src / name)
    pip = ["-m", "pip", "--disable-pip-version-check", "-q"]
    _run([sys.executable, *pip, "wheel", "--no-deps", "-w", str(home / "dist"), str(src)], home, "pip wheel")
    wheel = next((home / "dist").glob("tracker-*.whl"))
    base = getattr(sys, "_base_executable", sys.executable)
    _run([base, "-m", "venv", str(home / "venv")], home, "python -m venv")
    # Only what the wheel asks for (with the postgres extra), at the versions the suite passed with.
    _run(
        [str(home / "venv" / "bin" / "python"), *pip, "install", "-c", str(LOCK_FILE), f"{wheel}[postgres]"],
        home,
        "pip install of the wheel",
    )
    shutil.rmtree(src)


@pytest.fixture(scope="session", name="installed")
def installed_fixture(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """`installed`: the installed wheel, shared by every test process of this run (import this
    fixture into a test module to use it)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return build_and_install(shared / "installed-wheel")


def clean_env(home: Path, **variables: str) -> dict[str, str]:
    """An environment with nothing that points at the checkout or its venv: no TRACKER_*, FLASK_*,
    PYTHONPATH or VIRTUAL_ENV, and a home folder of its own (so the default instance folder is in it)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRACKER_", "FLASK_", "PYTHON", "XDG_"))
        and k not in ("VIRTUAL_ENV", "PROMETHEUS_MULTIPROC_DIR", "HOME")
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(CHECKOUT))
    )
    env["HOME"] = str(home)
    env.update(variables)
    return env


def run(
    installed: Installed, cwd: Path, env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(installed.tracker), *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Server:
    """`tracker serve` of the installed wheel, as a real process."""

    def __init__(self, installed: Installed, cwd: Path, env: dict[str, str], port: int, *args: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = cwd / f"serve-{port}.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [str(installed.tracker), "serve", "--port", str(port), *args],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text()

    def wait_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server stopped: {self.output()[-3000:]}")
            try:
                with OPENER.open(self.base + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server did not become healthy: {self.output()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Browser:
    """Cookies and forms over plain HTTP, as a browser signs in."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=20) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode()
        try:
            with self.opener.open(self.base + path, data=data, timeout=20) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def sign_in(self, username: str, password: str) -> str:
        """Through the sign-in form with its CSRF token; returns the page signed in to."""
        status, page = self.get("/login")
        assert status == 200, page
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert match, "no CSRF token on the sign-in page"
        status, page = self.post(
            "/login", {"csrf_token": match.group(1), "username": username, "password": password}
        )
        assert status == 200, page
        return page
