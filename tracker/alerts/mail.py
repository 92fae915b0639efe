"""Alert e-mail: the SMTP target from TRACKER_SMTP_URL and the text of a message (pseudonyms only)."""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

from tracker.alerts.delivery import Item
from tracker.alerts.planning import ESCALATION, OVERDUE
from tracker.config import ConfigError
from tracker.events.fields import NOT_ONE_LINE, is_one_line

SCHEMES = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}
TIMEOUT_SECONDS = 30
#: local@domain with no space, control or format character; what SMTP can carry in one command.
_ADDRESS = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}")


class Uncomposable(ValueError):
    """A message cannot be made from what is stored (the reason says what, without the value)."""


def one_line(text: str) -> str:
    """`text` fit for a header or a line of the body: breaks, controls and bidi or format characters
    (but the joiners some scripts need) become spaces. Values stored before single-line fields were
    checked may hold any of them; a header must never be split by one."""
    return " ".join(NOT_ONE_LINE.sub(" ", text).split())


def check_sender(address: str) -> None:
    """Raise ConfigError when MAIL_FROM is not one address (or could split a header)."""
    try:
        check_address(address, "in MAIL_FROM")
    except Uncomposable as exc:
        raise ConfigError(f"{exc}: MAIL_FROM must look like tracker@example.org") from None


def check_address(address: str, whose: str) -> str:
    """The address (`a@b` or `Name <a@b>`), or Uncomposable when it could split a header or is not
    one address."""
    if not is_one_line(address) or not _ADDRESS.fullmatch(parseaddr(address)[1]):
        raise Uncomposable(f"the e-mail address {whose} is not a valid address")
    return address


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """Where alert e-mail goes."""

    host: str
    port: int
    scheme: str
    username: str | None = None
    password: str | None = None


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://host:port`, `smtps://...` (TLS) or `smtp+starttls://...`, with optional user:password@."""
    problem = "SMTP_URL must look like smtp://host:port (or smtps://, smtp+starttls://)"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ConfigError(f"{problem}, not {url!r}") from None
    if parts.scheme not in SCHEMES or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(f"{problem}, not {url!r}")
    return SmtpTarget(
        host=parts.hostname,
        port=port or SCHEMES[parts.scheme],
        scheme=parts.scheme,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def connect(target: SmtpTarget) -> smtplib.SMTP:
    """An open, signed-in SMTP connection."""
    smtp: smtplib.SMTP
    if target.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(
            target.host, target.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(target.host, target.port, timeout=TIMEOUT_SECONDS)
    try:
        if target.scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
        if target.username:
            smtp.login(target.username, target.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _when(item: Item, today: date) -> str:
    days = (item.due_on - today).days
    if days < 0:
        return f"overdue since {item.due_on.isoformat()} ({-days} day{'s' if days != -1 else ''} ago)"
    if days == 0:
        return f"due today, {item.due_on.isoformat()}"
    return f"due {item.due_on.isoformat()} (in {days} day{'s' if days != 1 else ''})"


def _prefix(stage: str) -> str:
    if stage.startswith(ESCALATION):
        return "Escalation: "
    return "Overdue: " if stage == OVERDUE else "Deadline: "


def case_link(base_url: str, case_id: str) -> str:
    return f"{base_url.rstrip('/')}/cases/{case_id}"


def compose(items: Sequence[Item], sender: str, base_url: str, today: date) -> EmailMessage:
    """One message to one user about some of their alerts.

    It names each person by pseudonym and each deadline by its rule's title, and links to the case;
    it never holds an encrypted (s) field, since nothing here ever decrypts one.
    """
    first = items[0]
    recipient = check_address(first.email, f"of {first.username}")
    if len(items) == 1:
        what = f"{one_line(first.pseudonym)}: {one_line(first.title)}"
        subject = f"{_prefix(first.stage)}{what}, {_when(first, today)}"
    else:
        soonest = min(i.due_on for i in items).isoformat()
        subject = f"{len(items)} deadline alerts (the soonest due {soonest})"
    lines = [f"Hello {first.username},", "", "Deadline alerts for you in the tracker:", ""]
    for item in items:
        lines += [
            f"* {one_line(item.pseudonym)}: {one_line(item.title)}",
            f"  {_when(item, today)}",
            f"  {case_link(base_url, item.case_id)}",
            "",
        ]
    lines += [
        f"Acknowledge them in your alerts inbox: {base_url.rstrip('/')}/alerts",
        "People are named by pseudonym only; their details stay in the tracker.",
    ]
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender  # checked once before a pass (check_sender)
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "tracker")
    message.set_content("\n".join(lines))
    return message
