"""Prometheus metrics: request latency, appends, alerts and e-mail, scheduler passes; GET /metrics.

prometheus_client is imported on first use, not with this module: it picks its storage (in memory,
or files in PROMETHEUS_MULTIPROC_DIR shared by gunicorn's workers) when it is imported, and
`tracker serve` sets that folder only after the application was made.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import Response, current_app, request
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

    from tracker.services.runtime import Runtime

PASS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


@dataclass(frozen=True)
class _Metrics:
    requests: Histogram
    appends: Counter
    alerts: Counter
    emails: Counter
    passes: Histogram
    registry: Any


_made: _Metrics | None = None
_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # A fork copies the lock as it is: held, if another thread was making the metrics at that
    # instant, and then no thread of the child could ever take it.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def multiprocess() -> bool:
    """Whether the values live in files shared by several processes (PROMETHEUS_MULTIPROC_DIR)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def _metrics() -> _Metrics:
    global _made
    if _made is not None:
        return _made
    with _lock:
        if _made is None:
            from prometheus_client import (
                PLATFORM_COLLECTOR,
                PROCESS_COLLECTOR,
                CollectorRegistry,
                Counter,
                Histogram,
            )

            registry = CollectorRegistry(auto_describe=True)
            if not multiprocess():
                registry.register(PROCESS_COLLECTOR)
                registry.register(PLATFORM_COLLECTOR)
            _made = _Metrics(
                requests=Histogram(
                    "tracker_http_request_duration_seconds",
                    "Time to answer an HTTP request, by endpoint, method and status.",
                    ["endpoint", "method", "status"],
                    registry=registry,
                ),
                appends=Counter(
                    "tracker_events_appended",
                    "Events appended to the store, by source (web, api, import, cli).",
                    ["source"],
                    registry=registry,
                ),
                alerts=Counter(
                    "tracker_alerts_created", "Alerts created by scheduler passes.", registry=registry
                ),
                emails=Counter(
                    "tracker_alert_emails",
                    "Alerts whose e-mail was sent, logged (no SMTP_URL) or failed (to be retried).",
                    ["outcome"],
                    registry=registry,
                ),
                passes=Histogram(
                    "tracker_scheduler_pass_duration_seconds",
                    "Duration of scheduler passes that ran (not those skipped for another pass).",
                    buckets=PASS_BUCKETS,
                    registry=registry,
                ),
                registry=registry,
            )
    assert _made is not None
    return _made


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its duration."""
    _metrics().requests.labels(endpoint, method, str(status)).observe(seconds)


def count_appends_on_commit(session: Session, source: str, count: int) -> None:
    """Count appended events once their transaction commits (a rolled-back append is not counted)."""
    pending: dict[str, int] | None = session.info.get("tracker_appended")
    if pending is None:
        pending = session.info["tracker_appended"] = {}
        sa.event.listen(session, "after_commit", _appends_committed)
        sa.event.listen(session, "after_rollback", _appends_rolled_back)
    pending[source] = pending.get(source, 0) + count


def _appends_committed(session: Session) -> None:
    pending: dict[str, int] = session.info.get("tracker_appended", {})
    for source, count in pending.items():
        _metrics().appends.labels(source).inc(count)
    pending.clear()


def _appends_rolled_back(session: Session) -> None:
    session.info.get("tracker_appended", {}).clear()


def count_alerts(created: int) -> None:
    """Count alerts made by a pass."""
    _metrics().alerts.inc(created)


def count_emails(sent: int, logged: int, failed: int) -> None:
    """Count the alerts of one e-mail delivery by outcome."""
    emails = _metrics().emails
    for outcome, count in (("sent", sent), ("logged", logged), ("failed", failed)):
        emails.labels(outcome).inc(count)


def observe_pass(seconds: float) -> None:
    """Record the duration of a scheduler pass."""
    _metrics().passes.observe(seconds)


def _database_families(rt: Runtime) -> list[Any]:
    """Gauges read from the database at scrape time: they hold whichever process ran the scheduler."""
    from prometheus_client.core import GaugeMetricFamily

    from tracker.ops.health import mail_backlog, scheduler_state

    up = GaugeMetricFamily("tracker_database_up", "1 when the database answered this scrape, else 0.")
    families: list[Any] = [up]
    try:
        with rt.db.read() as session:
            state = scheduler_state(session)
            backlog = mail_backlog(session)
    except sa.exc.SQLAlchemyError:
        up.add_metric([], 0)
        return families
    up.add_metric([], 1)
    if state is not None:
        finished = GaugeMetricFamily(
            "tracker_scheduler_last_pass_finished_timestamp_seconds",
            "When the last scheduler pass finished (Unix time).",
        )
        finished.add_metric([], state.finished_at.timestamp())
        seconds = GaugeMetricFamily(
            "tracker_scheduler_last_pass_seconds", "How long the last scheduler pass took."
        )
        seconds.add_metric([], state.seconds)
        families += [finished, seconds]
    waiting = GaugeMetricFamily(
        "tracker_alert_emails_waiting",
        "Alerts whose e-mail is pending (new or to be retried) or failed for good.",
        labels=["state"],
    )
    for name in ("pending", "failed"):
        waiting.add_metric([name], backlog.get(name, 0))
    families.append(waiting)
    return families


def exposition(rt: Runtime) -> tuple[bytes, str]:
    """The metrics of this server (all its workers in multiprocess mode) in the Prometheus text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    made = _metrics()
    if multiprocess():
        registry = CollectorRegistry(auto_describe=True)
        MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(made.registry)
    database = CollectorRegistry(auto_describe=True)
    for family in _database_families(rt):
        database.register(_Fixed(family))
    return body + generate_latest(database), CONTENT_TYPE_LATEST


class _Fixed:
    """A collector of one family already read."""

    def __init__(self, family: Any) -> None:
        self.family = family

    def collect(self) -> list[Any]:
        return [self.family]


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def allowed() -> bool:
    """A scrape with the METRICS_TOKEN bearer token, or from loopback without passing a proxy."""
    token = str(current_app.config.get("METRICS_TOKEN") or "")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    # A proxy on the same host makes every client look local: a forwarded request needs the token.
    forwarded = any(name in request.headers for name in FORWARDING_HEADERS)
    return not forwarded and _is_loopback(request.environ.get("REMOTE_ADDR"))


def view() -> Response:
    """GET /metrics."""
    if not allowed():
        return Response(
            "metrics are served on loopback, or with the METRICS_TOKEN bearer token\n",
            status=403,
            mimetype="text/plain",
        )
    body, content_type = exposition(current_app.extensions["tracker"])
    return Response(body, content_type=content_type)
