"""How sign-in attempts are slowed down: per account and address, per device, and with high caps.

A guesser is slowed, the owner is not blocked: failures count per (account, address) pair with a
delay that doubles after each one past the limit; a browser that signed in to the account before
(its signed device cookie) has a budget of its own; an account-wide cap only stops addresses the
account never signed in from; and a per-address cap is high enough for an office behind one NAT.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.tables import SigninAttemptRow
from tracker.services.runtime import Runtime

#: The account-wide and per-address caps, as multiples of SIGNIN_MAX_ATTEMPTS per window.
ACCOUNT_CAP_FACTOR = 10
ADDRESS_CAP_FACTOR = 20
#: An address the account signed in from this recently is "known"; attempts are kept this long.
KNOWN_DAYS = 90


@dataclass(frozen=True, slots=True)
class Attempt:
    """Who is trying: the account (as its keyed digest), the address, the device id if known."""

    account: str
    address: str
    device: str | None


def account_key(rt: Runtime, username: str) -> str:
    """A keyed digest of what was typed as the user name: it may be a password, so it is not kept."""
    secret = str(rt.settings.get("SECRET_KEY") or "").encode()
    return hmac.new(secret, b"signin:" + username.encode(), hashlib.sha256).hexdigest()


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _failures(
    session: Session, since: datetime, limit: int, *conditions: sa.ColumnElement[bool]
) -> list[datetime]:
    """The newest failures (at most `limit`) matching the conditions since `since`, newest first."""
    return [
        _as_utc(at)
        for at in session.scalars(
            sa.select(SigninAttemptRow.at)
            .where(SigninAttemptRow.success.is_(False), SigninAttemptRow.at > since, *conditions)
            .order_by(SigninAttemptRow.at.desc())
            .limit(limit)
        )
    ]


def _doubling_wait(failures: list[datetime], free: int, window: int, now: datetime) -> int:
    """After `free` failures, each further one doubles the wait after the newest (up to the window)."""
    if len(failures) < free:
        return 0
    delay = min(2 ** (len(failures) - free + 1), window)
    return max(0, int((failures[0] + timedelta(seconds=delay) - now).total_seconds()) + 1)


def _cap_wait(failures: list[datetime], cap: int, window: int, now: datetime) -> int:
    """With `cap` failures in the window, wait until the oldest of them leaves it."""
    if len(failures) < cap:
        return 0
    return max(0, int((failures[-1] + timedelta(seconds=window) - now).total_seconds()) + 1)


def _known_address(session: Session, attempt: Attempt, now: datetime) -> bool:
    return (
        session.scalar(
            sa.select(SigninAttemptRow.id)
            .where(
                SigninAttemptRow.username == attempt.account,
                SigninAttemptRow.address == attempt.address,
                SigninAttemptRow.success.is_(True),
                SigninAttemptRow.at > now - timedelta(days=KNOWN_DAYS),
            )
            .limit(1)
        )
        is not None
    )


def wait_seconds(session: Session, rt: Runtime, attempt: Attempt) -> int:
    """Seconds until this attempt may be tried; 0 when it may be tried now."""
    free = int(rt.settings.get("SIGNIN_MAX_ATTEMPTS", 5))
    window = int(rt.settings.get("SIGNIN_WINDOW_SECONDS", 300))
    now = rt.now()
    since = now - timedelta(seconds=window)
    account = SigninAttemptRow.username == attempt.account
    enough = free + window.bit_length() + 1  # past this many, the doubling wait is the whole window
    if attempt.device is not None:
        # A browser that signed in to this account before: only its own failures slow it down.
        own = _failures(session, since, enough, account, SigninAttemptRow.device == attempt.device)
        return _doubling_wait(own, free, window, now)
    unknown_device = SigninAttemptRow.device.is_(None)
    pair = _failures(
        session, since, enough, account, SigninAttemptRow.address == attempt.address, unknown_device
    )
    wait = _doubling_wait(pair, free, window, now)
    address_cap = free * ADDRESS_CAP_FACTOR
    here = _failures(session, since, address_cap, SigninAttemptRow.address == attempt.address, unknown_device)
    wait = max(wait, _cap_wait(here, address_cap, window, now))
    account_cap = free * ACCOUNT_CAP_FACTOR
    everywhere = _failures(session, since, account_cap, account, unknown_device)
    if len(everywhere) >= account_cap and not _known_address(session, attempt, now):
        wait = max(wait, _cap_wait(everywhere, account_cap, window, now))
    return wait


def record(session: Session, rt: Runtime, attempt: Attempt, success: bool) -> None:
    """Count an attempt; a success also forgets this account's and address's oldest attempts."""
    now = rt.now()
    session.add(
        SigninAttemptRow(
            at=now, username=attempt.account, address=attempt.address, device=attempt.device, success=success
        )
    )
    if success:
        old = now - timedelta(days=KNOWN_DAYS)
        for column, value in (
            (SigninAttemptRow.username, attempt.account),
            (SigninAttemptRow.address, attempt.address),
        ):
            session.execute(
                sa.delete(SigninAttemptRow)
                .where(column == value, SigninAttemptRow.at < old)
                .execution_options(synchronize_session=False)
            )
