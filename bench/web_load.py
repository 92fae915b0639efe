"""`tracker serve` under load from loopback clients: latencies, throughput and the server's peak memory."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from common import OUT_DIR, VENV_BIN, Timings, log

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in KiB; PSS shares pages among the processes that map them."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return rss, pss


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            out.extend(int(c) for c in text)
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


class Server:
    """`tracker serve --workers N` on a free loopback port, with its RSS (master + workers) sampled."""

    def __init__(self, env: dict[str, str], workers: int = 4) -> None:
        self.port = free_port()
        self.peak_kib = self.peak_pss_kib = 0
        self._stop = threading.Event()
        self._log = open(OUT_DIR / "serve.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "tracker"), "serve", "--workers", str(workers), "--port", str(self.port)],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            sizes = [_memory_kib(p) for p in (self.proc.pid, *_children(self.proc.pid))]
            self.peak_kib = max(self.peak_kib, sum(rss for rss, _ in sizes))
            self.peak_pss_kib = max(self.peak_pss_kib, sum(pss for _, pss in sizes))
            self._stop.wait(0.2)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"tracker serve exited with {self.proc.returncode}; see {OUT_DIR}/serve.log"
                )
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/api/v1/openapi.json")
                if conn.getresponse().status == 200:
                    conn.close()
                    self._sampler.start()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("tracker serve did not answer within a minute")

    @property
    def peak_mb(self) -> float:
        return self.peak_kib / 1024

    @property
    def peak_pss_mb(self) -> float:
        return self.peak_pss_kib / 1024

    def stop(self) -> None:
        self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class Client:
    """One keep-alive HTTP connection."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.headers = headers

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> bytes:
        payload = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=payload, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return data

    def close(self) -> None:
        self.conn.close()


def load(
    port: int,
    headers: dict[str, str],
    count: int,
    clients: int,
    request: Callable[[Client, int], None],
    seconds: float = 90.0,
) -> Timings:
    """`count` requests from `clients` threads, each on its own connection; stops after `seconds`."""
    samples: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = time.perf_counter()

    def worker(k: int) -> None:
        client, mine = Client(port, headers), []
        try:
            for i in range(k, count, clients):
                t0 = time.perf_counter()
                request(client, i)
                mine.append(time.perf_counter() - t0)
                if t0 - start > seconds:
                    break
        except Exception as exc:  # report it once the threads are joined
            errors.append(str(exc))
        finally:
            client.close()
            with lock:
                samples.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed, first: {errors[0]}")
    return Timings(samples, time.perf_counter() - start)


def api_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Connection": "keep-alive"}


def appends(port: int, token: str, ids: Sequence[str], today: str, count: int, clients: int) -> Timings:
    body = {"type": "note_added", "occurred_on": today, "data": {"text": "Checked in by phone; all well."}}
    return load(
        port,
        api_headers(token),
        count,
        clients,
        lambda c, i: c.call("POST", f"/api/v1/cases/{ids[i % len(ids)]}/events", body, expect=201),
    )


def get_cases(port: int, token: str, ids: Sequence[str], count: int, clients: int) -> Timings:
    return load(
        port,
        api_headers(token),
        count,
        clients,
        lambda c, i: c.call("GET", f"/api/v1/cases/{ids[i % len(ids)]}"),
    )


def list_cases(port: int, token: str, queries: Sequence[str], count: int, clients: int) -> Timings:
    return load(
        port,
        api_headers(token),
        count,
        clients,
        lambda c, i: c.call("GET", f"/api/v1/cases?{queries[i % len(queries)]}"),
    )


def web_session(port: int, username: str, password: str) -> dict[str, str] | None:
    """Cookie headers of a signed-in web session, or None when signing in does not work."""
    client = Client(port, {})
    try:
        client.conn.request("GET", "/login")
        response = client.conn.getresponse()
        page = response.read().decode(errors="replace")
        cookie = _cookies(response.getheaders())
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page
        )
        form = {"username": username, "password": password}
        if token:
            form["csrf_token"] = token.group(1)
        client.conn.request(
            "POST",
            "/login",
            body=urllib.parse.urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )
        response = client.conn.getresponse()
        response.read()
        cookie = _cookies(response.getheaders()) or cookie
        if response.status not in (302, 303) or not cookie:
            log(f"web sign-in answered {response.status}; case page not measured")
            return None
        return {"Cookie": cookie, "Connection": "keep-alive"}
    finally:
        client.close()


def _cookies(headers: list[tuple[str, str]]) -> str:
    return "; ".join(v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie")


def case_pages(port: int, headers: dict[str, str], ids: Sequence[str], count: int, clients: int) -> Timings:
    return load(port, headers, count, clients, lambda c, i: c.call("GET", f"/cases/{ids[i % len(ids)]}"))
