"""Alert e-mail through a real SMTP server on loopback: content, refusal, retry with backoff, once only."""

from __future__ import annotations

import email
import logging
import re
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import Message
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from alertkit import at, free_port, staff, stay_case, user
from conftest import add_event

from tracker.alerts.delivery import MAX_ATTEMPTS, retry_delay
from tracker.alerts.lock import pass_lock
from tracker.alerts.mail import parse_smtp_url
from tracker.alerts.tables import AlertRow
from tracker.config import ConfigError
from tracker.services.alerts import MailResult, deliver_mail, run_pass

BASE_URL = "https://tracker.example.org"


class Inbox:
    """An SMTP handler that keeps what it receives, or refuses it with a temporary error."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []
        self.refuse = False
        self.refuse_for: set[str] = set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        if self.refuse_for & set(envelope.rcpt_tos):
            return "554 5.6.0 message refused"
        self.messages.append(email.message_from_bytes(envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


class Server:
    """An aiosmtpd server on a loopback port that can be stopped and started again."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def server() -> Iterator[Server]:
    smtp = Server()
    yield smtp
    smtp.stop()


@pytest.fixture
def mailing(rt: Any, server: Server) -> Any:
    rt.settings.update(
        SMTP_URL=f"smtp://127.0.0.1:{server.port}", BASE_URL=BASE_URL, MAIL_FROM="alerts@example.org"
    )
    return rt


def mail_state(rt: Any) -> list[tuple[str, str, int]]:
    with rt.db.read() as session:
        rows = session.execute(
            sa.select(AlertRow.username, AlertRow.email_state, AlertRow.email_attempts).order_by(AlertRow.id)
        )
        return [tuple(r) for r in rows]


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_an_alert_is_mailed_with_the_pseudonym_the_deadline_and_a_link(app, mailing, server) -> None:
    server.start()
    rt, today = mailing, mailing.today()
    people = staff(app)
    case = stay_case(people["admin"], today, today + timedelta(days=3), legal_name="Ivan Secretov")
    add_event(people["admin"], case, "contact_details_changed", today.isoformat(), {"phone": "+77015550123"})
    result = run_pass(rt, at(today))
    assert (result.created, result.mail.sent) == (1, 1)
    (message,) = server.inbox.messages
    assert server.inbox.recipients == [["anna@example.org"]]
    assert message["From"] == "alerts@example.org" and message["To"] == "anna@example.org"
    text = body(message)
    due = (today + timedelta(days=3)).isoformat()
    assert "Sparrow" in message["Subject"] and "Sparrow: Legal stay in KZ expires" in text
    assert f"due {due} (in 3 days)" in text
    assert f"{BASE_URL}/cases/{case}" in text
    raw = message.as_string()
    assert "Secretov" not in raw and "5550123" not in raw
    assert mail_state(rt) == [("anna", "sent", 1)]
    run_pass(rt, at(today, 20))
    assert len(server.inbox.messages) == 1


def test_a_refused_mail_is_retried_with_backoff_and_sent_once_after_recovery(app, mailing, server) -> None:
    server.start()
    server.inbox.refuse = True
    rt, today = mailing, mailing.today()
    stay_case(staff(app)["admin"], today, today + timedelta(days=3))
    t0 = at(today)
    result = run_pass(rt, t0)
    assert (result.created, result.mail.sent, result.mail.failed) == (1, 0, 1)
    with rt.db.read() as session:
        row = session.scalars(sa.select(AlertRow)).one()
        assert (row.email_state, row.email_attempts) == ("pending", 1)
        assert row.email_next_at.replace(tzinfo=None) == (t0 + retry_delay(1)).replace(tzinfo=None)
        assert "451" in (row.email_error or "")
    run_pass(rt, t0 + retry_delay(1) / 2)  # too early: not tried again
    assert mail_state(rt) == [("anna", "pending", 1)]
    server.inbox.refuse = False
    run_pass(rt, t0 + retry_delay(1))
    assert len(server.inbox.messages) == 1
    for hours in (1, 2, 30):
        run_pass(rt, t0 + timedelta(hours=hours))
    assert len(server.inbox.messages) == 1
    assert mail_state(rt) == [("anna", "sent", 2)]


def test_a_server_that_is_down_gets_the_mail_once_it_is_back(app, mailing, server) -> None:
    rt, today = mailing, mailing.today()
    stay_case(staff(app)["admin"], today, today + timedelta(days=1))
    t0 = at(today)
    assert run_pass(rt, t0).mail.failed == 1
    assert run_pass(rt, t0 + retry_delay(1)).mail.failed == 1
    server.start()
    assert run_pass(rt, t0 + retry_delay(1) + retry_delay(2)).mail.sent == 1
    run_pass(rt, t0 + timedelta(hours=12))
    assert len(server.inbox.messages) == 1
    assert mail_state(rt) == [("anna", "sent", 3)]


def test_an_unreachable_server_stops_the_round_instead_of_timing_out_batch_after_batch(
    app, mailing, server, monkeypatch
) -> None:
    from tracker.services import alerts as service

    monkeypatch.setattr(service, "MAIL_BATCH", 1)
    rt, today = mailing, mailing.today()
    admin = staff(app)["admin"]
    for name in ("Sparrow", "Falcon", "Birch"):
        stay_case(admin, today, today + timedelta(days=3), name=name)
    result = run_pass(rt, at(today))
    assert (result.created, result.mail.failed) == (3, 1)
    assert sorted(attempts for _name, _state, attempts in mail_state(rt)) == [0, 0, 1]
    server.start()
    assert deliver_mail(rt, at(today)).sent == 2  # the one tried waits for its retry time
    assert deliver_mail(rt, at(today) + retry_delay(1)).sent == 1
    assert len(server.inbox.messages) == 3


def test_delivery_gives_up_after_the_last_attempt_but_keeps_the_alert(app, mailing, server) -> None:
    server.start()
    server.inbox.refuse = True
    rt, today = mailing, mailing.today()
    stay_case(staff(app)["admin"], today, today + timedelta(days=3))
    now = at(today)
    run_pass(rt, now)
    for attempt in range(1, MAX_ATTEMPTS + 2):
        now += retry_delay(attempt)
        deliver_mail(rt, now)
    assert mail_state(rt) == [("anna", "failed", MAX_ATTEMPTS)]
    assert server.inbox.messages == []
    assert len(staff_inbox(app, "anna")) == 1


def staff_inbox(app: Any, name: str) -> list[dict]:
    from tracker.auth.users import Actor
    from tracker.services.alerts import list_alerts

    return list_alerts(app.extensions["tracker"], Actor(name, "caseworker"))


def test_one_message_per_user_gathers_the_alerts_of_a_pass(app, mailing, server) -> None:
    server.start()
    rt, today = mailing, mailing.today()
    admin = staff(app)["admin"]
    stay_case(admin, today, today + timedelta(days=3), name="Sparrow")
    stay_case(admin, today, today + timedelta(days=7), name="Falcon")
    stay_case(admin, today, today + timedelta(days=14), worker="boris", name="Birch")
    assert run_pass(rt, at(today)).mail.sent == 3
    by_user = {m["To"]: body(m) for m in server.inbox.messages}
    assert set(by_user) == {"anna@example.org", "boris@example.org"}
    assert "Sparrow" in by_user["anna@example.org"] and "Falcon" in by_user["anna@example.org"]
    assert "Birch" not in by_user["anna@example.org"]


def test_without_smtp_the_mail_is_logged_and_users_without_address_are_skipped(app, rt, caplog) -> None:
    # (An address removed after the alert was made is caught at delivery: see the next test.)
    today: date = rt.today()
    admin = staff(app)["admin"]
    user(app, "cora", "caseworker")  # no e-mail address
    stay_case(admin, today, today + timedelta(days=3))
    stay_case(admin, today, today + timedelta(days=3), worker="cora", name="Falcon")
    with caplog.at_level(logging.INFO, logger="tracker.services.alerts"):
        result = run_pass(rt, at(today))
    assert (result.created, result.mail.logged, result.mail.sent) == (2, 1, 0)
    assert sorted(mail_state(rt)) == [("anna", "logged", 1), ("cora", "skipped", 0)]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "SMTP_URL is unset" in logged and "Sparrow" in logged and "anna@example.org" in logged


def test_an_address_removed_before_delivery_skips_the_mail(app, mailing, server) -> None:
    from tracker.auth.tables import UserRow

    server.start()
    rt, today = mailing, mailing.today()
    stay_case(staff(app)["admin"], today, today + timedelta(days=3))
    with pass_lock(rt.db, name="mail"):  # a delivery elsewhere is busy: the pass leaves the mail to it
        assert run_pass(rt, at(today), wait=False).created == 1
    with rt.db.write() as session:
        session.execute(sa.update(UserRow).where(UserRow.username == "anna").values(email=None))
    assert deliver_mail(rt, at(today, 7)) == MailResult(skipped=1)
    assert mail_state(rt) == [("anna", "skipped", 0)] and server.inbox.messages == []


@pytest.mark.parametrize(
    ("url", "host", "port", "scheme", "login"),
    [
        ("smtp://mail.example.org:2525", "mail.example.org", 2525, "smtp", None),
        ("smtp://127.0.0.1", "127.0.0.1", 25, "smtp", None),
        ("smtps://u%40x:p%3Aw@mail.example.org", "mail.example.org", 465, "smtps", ("u@x", "p:w")),
        ("smtp+starttls://mail.example.org", "mail.example.org", 587, "smtp+starttls", None),
    ],
)
def test_smtp_urls(url: str, host: str, port: int, scheme: str, login: tuple | None) -> None:
    target = parse_smtp_url(url)
    assert (target.host, target.port, target.scheme) == (host, port, scheme)
    assert (target.username, target.password) == (login or (None, None))


@pytest.mark.parametrize(
    "url", ["mail.example.org", "http://mail.example.org", "smtp://", "smtp://h:99999", "smtp://h/x"]
)
def test_bad_smtp_urls_are_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(ConfigError, match="SMTP_URL"):
        parse_smtp_url(url)


def test_the_scheduler_refuses_to_start_with_a_bad_smtp_url(app) -> None:
    from tracker.cli import cli

    app.extensions["tracker"].settings["SMTP_URL"] = "mail.example.org:25"
    result = app.test_cli_runner().invoke(cli, ["scheduler", "--once"])
    assert result.exit_code == 1
    assert "SMTP_URL must look like smtp://host:port" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("stage", "due", "subject"),
    [
        ("lead:3", date(2025, 3, 4), "Deadline: Sparrow: Court hearing, due 2025-03-04 (in 3 days)"),
        ("lead:0", date(2025, 3, 1), "Deadline: Sparrow: Court hearing, due today, 2025-03-01"),
        (
            "overdue",
            date(2025, 2, 28),
            "Overdue: Sparrow: Court hearing, overdue since 2025-02-28 (1 day ago)",
        ),
        (
            "overdue:2025-03-01",
            date(2025, 2, 27),
            "Escalation: Sparrow: Court hearing, overdue since 2025-02-27 (2 days ago)",
        ),
    ],
)
def test_the_subject_says_what_kind_of_alert_it_is(stage: str, due: date, subject: str) -> None:
    from tracker.alerts.delivery import Item
    from tracker.alerts.mail import compose

    item = Item(
        1, "anna", "anna@example.org", "c1", "Sparrow", "court_hearing", "Court hearing", due, stage, None, 1
    )
    message = compose([item], "alerts@example.org", BASE_URL, date(2025, 3, 1))
    assert message["Subject"] == subject
    two = compose([item, item], "alerts@example.org", BASE_URL, date(2025, 3, 1))
    assert two["Subject"] == f"2 deadline alerts (the soonest due {due.isoformat()})"


def _store_raw(rt: Any, table: Any, where: Any, **values: Any) -> None:
    """Write values as an older version may have stored them (before single-line fields were checked)."""
    with rt.db.write() as session:
        session.execute(sa.update(table).where(where).values(**values))


def test_an_alert_that_cannot_be_composed_fails_alone_and_the_others_are_sent(app, mailing, server) -> None:
    from tracker.auth.tables import UserRow

    server.start()
    rt, today = mailing, mailing.today()
    admin = staff(app)["admin"]
    user(app, "cora", "caseworker", "cora@example.org")
    stay_case(admin, today, today + timedelta(days=3), name="Sparrow")
    stay_case(admin, today, today + timedelta(days=3), worker="boris", name="Falcon")
    stay_case(admin, today, today + timedelta(days=3), worker="cora", name="Birch")
    _store_raw(rt, UserRow, UserRow.username == "boris", email="boris@example.org\nBcc: eve@example.net")
    result = run_pass(rt, at(today))
    assert (result.created, result.mail.sent, result.mail.failed) == (3, 2, 1)
    assert sorted(r[0] for r in server.inbox.recipients) == ["anna@example.org", "cora@example.org"]
    with rt.db.read() as session:
        row = session.scalars(sa.select(AlertRow).where(AlertRow.username == "boris")).one()
        assert row.email_state == "failed" and row.email_next_at is None
        assert "address" in (row.email_error or "")
    run_pass(rt, at(today) + timedelta(hours=12))  # given up: not tried again
    assert len(server.inbox.messages) == 2
    assert len(staff_inbox(app, "boris")) == 1  # the alert itself stays in the inbox


def test_line_breaks_stored_before_they_were_refused_cannot_inject_headers(app, mailing, server) -> None:
    from tracker.projections.tables import CaseRow, DeadlineRow

    server.start()
    rt, today = mailing, mailing.today()
    admin = staff(app)["admin"]
    case = stay_case(admin, today, today + timedelta(days=3), name="Sparrow")
    stay_case(admin, today, today + timedelta(days=3), worker="boris", name="Falcon")
    hostile = "Sparrow\r\nBcc: eve@example.net\r\n\r\nforged body"
    _store_raw(rt, CaseRow, CaseRow.case_id == case, pseudonym=hostile)
    _store_raw(rt, DeadlineRow, DeadlineRow.case_id == case, title="Stay\nX-Evil: 1 \u202eexpires")
    result = run_pass(rt, at(today))
    assert (result.mail.sent, result.mail.failed) == (2, 0)
    assert sorted(r for rs in server.inbox.recipients for r in rs) == [
        "anna@example.org",
        "boris@example.org",
    ]
    anna = next(m for m in server.inbox.messages if m["To"] == "anna@example.org")
    assert anna["Bcc"] is None and anna["X-Evil"] is None
    subject = re.sub(r"\r?\n[ \t]", " ", anna["Subject"])  # a long header is folded, not split
    assert "\n" not in subject and "\u202e" not in subject
    assert "Sparrow" in subject and "Bcc: eve@example.net" in subject
    lines = body(anna).splitlines()
    assert not any(line.startswith(("Bcc:", "forged body", "X-Evil")) for line in lines)


def test_a_message_the_server_refuses_does_not_stop_the_next_ones(app, mailing, server) -> None:
    server.start()
    server.inbox.refuse_for = {"anna@example.org"}
    rt, today = mailing, mailing.today()
    admin = staff(app)["admin"]
    user(app, "cora", "caseworker", "cora@example.org")
    stay_case(admin, today, today + timedelta(days=3), name="Sparrow")
    stay_case(admin, today, today + timedelta(days=3), worker="boris", name="Falcon")
    stay_case(admin, today, today + timedelta(days=3), worker="cora", name="Birch")
    result = run_pass(rt, at(today))
    assert (result.mail.sent, result.mail.failed) == (2, 1)
    assert sorted(r[0] for r in server.inbox.recipients) == ["boris@example.org", "cora@example.org"]
    assert sorted(mail_state(rt)) == [("anna", "pending", 1), ("boris", "sent", 1), ("cora", "sent", 1)]


def test_a_sender_address_that_could_split_a_header_is_a_configuration_error(app, mailing, server) -> None:
    server.start()
    rt, today = mailing, mailing.today()
    stay_case(staff(app)["admin"], today, today + timedelta(days=3))
    rt.settings["MAIL_FROM"] = "alerts@example.org\r\nBcc: eve@example.net"
    with pytest.raises(ConfigError, match="MAIL_FROM"):
        run_pass(rt, at(today))
    assert mail_state(rt) == [("anna", "pending", 0)] and server.inbox.messages == []
    rt.settings["MAIL_FROM"] = "Tracker <alerts@example.org>"
    assert deliver_mail(rt, at(today)).sent == 1


def test_the_scheduler_refuses_to_start_with_a_mail_from_that_could_split_a_header(app) -> None:
    from tracker.cli import cli
    from tracker.cli.scheduler import check_settings

    rt = app.extensions["tracker"]
    rt.settings["MAIL_FROM"] = "alerts@example.org\nBcc: eve@example.net"
    with pytest.raises(ConfigError, match="MAIL_FROM"):
        check_settings(rt)  # also what `tracker serve --with-scheduler` checks before it starts
    result = app.test_cli_runner().invoke(cli, ["scheduler", "--once"])
    assert result.exit_code == 1
    assert "MAIL_FROM" in result.output and "Traceback" not in result.output
