"""The organization's clock: times are stored in UTC, days and shown times are those of a time zone.

The zone is the installation's TIME_ZONE, or the signed-in user's own for the length of a request
(`set_user_zone`, called at the start of every request). Every "now" of the tracker comes from
`utc_now()` (or a runtime's clock, which tests freeze), and every "today" from `day_in()` of such a
moment in such a zone.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_user_zone: ContextVar[ZoneInfo | None] = ContextVar("tracker_user_zone", default=None)


class UnknownZone(ValueError):
    """A name that is not a time zone of the IANA database."""


def utc_now() -> datetime:
    """The present moment, in UTC."""
    return datetime.now(UTC)


@lru_cache(maxsize=64)
def zone_named(name: str) -> ZoneInfo:
    """The time zone called `name` ("Asia/Almaty", "UTC"); UnknownZone when there is none."""
    if not isinstance(name, str) or name.strip() != name or not name or "\x00" in name:
        raise UnknownZone(f"{name!r} is not a time zone name like 'Europe/Berlin' or 'UTC'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownZone(f"{name!r} is not a time zone name like 'Europe/Berlin' or 'UTC'") from None


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every zone name users may choose, sorted."""
    return tuple(sorted(n for n in available_timezones() if "/" in n or n == "UTC"))


def zone_or_none(name: str | None) -> ZoneInfo | None:
    """The zone called `name`; None when there is no name, or one the tz database no longer knows."""
    if not name:
        return None
    try:
        return zone_named(name)
    except UnknownZone:
        return None


def current_zone(organization: ZoneInfo) -> ZoneInfo:
    """The signed-in user's zone while one is set for this request, else the organization's."""
    return _user_zone.get() or organization


def day_in(moment: datetime, tz: ZoneInfo) -> date:
    """The day `moment` falls on in the zone `tz` (a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).date()


def set_user_zone(tz: ZoneInfo | None) -> None:
    """Days and shown times of the current request in `tz` (None: the organization's zone)."""
    _user_zone.set(tz)
