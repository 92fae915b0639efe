"""What every service needs: the database, the installation keys, the deadline rules, the clock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.clock import current_zone, day_in, utc_now, zone_named
from tracker.config import decode_data_key, instance_path
from tracker.crypto.codec import CryptoError, kek_id, new_case_key, unwrap_case_key, wrap_case_key
from tracker.crypto.keyring import Keyring, KeyringFile
from tracker.db import Database
from tracker.deadlines.rules import Rules
from tracker.search.normalize import search_key
from tracker.store.events import load_case_key, save_case_key
from tracker.store.seals import chain_key, seal_appended
from tracker.store.tables import CaseKeyRow


class NotFound(Exception):
    """The thing does not exist, or the caller may not know that it does."""


class Forbidden(Exception):
    """The caller sees the thing but may not do this to it."""


def decode_key_list(value: str, source: str) -> tuple[bytes, ...]:
    """Comma-separated installation keys (URL-safe base64), e.g. TRACKER_OLD_DATA_KEYS."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    return tuple(decode_data_key(p, f"{source} (key {n})") for n, p in enumerate(parts, start=1))


@dataclass
class Runtime:
    db: Database
    kek: bytes = field(repr=False)
    rules: Rules
    settings: dict[str, Any] = field(default_factory=dict, repr=False)
    clock: Callable[[], datetime] = utc_now
    # Installation keys that may still wrap some case keys (after a key change, until rotation ends).
    old_keks: tuple[bytes, ...] = field(default=(), repr=False)
    _keks: dict[str, bytes] = field(init=False, repr=False, default_factory=dict)
    # The keyring (outside the database) whose leaves, with the installation key, wrap case keys.
    keyring_file: KeyringFile = field(init=False, repr=False)
    _search_keys: tuple[bytes, ...] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        raw = str(self.settings.get("OLD_DATA_KEYS") or "")
        if raw and not self.old_keks:
            self.old_keks = decode_key_list(raw, "TRACKER_OLD_DATA_KEYS")
        self._keks = {kek_id(k): k for k in self.old_keks}
        self._keks[kek_id(self.kek)] = self.kek
        path = self.settings.get("KEYRING_PATH") or instance_path() / "keyring"
        self.keyring_file = KeyringFile(Path(path))

    @property
    def kek_id(self) -> str:
        """The public id of the current installation key: every new case key is wrapped under it."""
        return kek_id(self.kek)

    @property
    def known_kek_ids(self) -> frozenset[str]:
        """Ids of every installation key this process holds (current and old)."""
        return frozenset(self._keks)

    def kek_for(self, key_id: str) -> bytes:
        """The installation key with this id; CryptoError when it is not configured."""
        try:
            return self._keks[key_id]
        except KeyError:
            raise CryptoError(
                f"installation key {key_id} is needed but is neither TRACKER_DATA_KEY ({self.kek_id}) "
                "nor one of TRACKER_OLD_DATA_KEYS"
            ) from None

    @property
    def search_key(self) -> bytes:
        """The key of the blind index (tracker.search.normalize), derived from the installation key."""
        return self.search_keys[0]

    @property
    def search_keys(self) -> tuple[bytes, ...]:
        """The search key of the current installation key, then of each old one (until a rebuild)."""
        if self._search_keys is None:
            self._search_keys = tuple(search_key(k) for k in (self.kek, *self.old_keks))
        return self._search_keys

    def chain_key_for(self, key_id: str) -> bytes | None:
        """The chain key (tracker.store.seals) derived from the installation key with this id, if held."""
        kek = self._keks.get(key_id)
        return chain_key(kek) if kek is not None else None

    def seal_appended(
        self, session: Session, rows: Sequence[Any], new_cases: Sequence[str], bulk: bool = False
    ) -> None:
        """Seal appended events under the chain key of the current installation key."""
        key = self.chain_key_for(self.kek_id)
        assert key is not None
        seal_appended(session, key, self.kek_id, rows, new_cases, bulk=bulk)

    def now(self) -> datetime:
        return self.clock()

    @property
    def zone(self) -> ZoneInfo:
        """The organization's time zone (TIME_ZONE)."""
        return zone_named(str(self.settings.get("TIME_ZONE") or "UTC"))

    def today(self) -> date:
        """Today in the signed-in user's time zone, else in the organization's."""
        return day_in(self.clock(), current_zone(self.zone))

    def organization_day(self, moment: datetime) -> date:
        """The day `moment` falls on in the organization's time zone (the scheduler's day)."""
        return day_in(moment, self.zone)

    def keyring(self) -> Keyring:
        """The keyring, made on first use; refused when the database's keys are under another one."""
        return self.keyring_file.current() or self.keyring_file.create(self._foreign_keyring)

    @property
    def keyring_id(self) -> str:
        """The id of the keyring every new case key is wrapped under."""
        return self.keyring().id

    def _foreign_keyring(self) -> str | None:
        with self.db.read() as session:
            query = sa.select(CaseKeyRow.keyring).where(CaseKeyRow.keyring.is_not(None)).limit(1)
            other = session.scalar(query)
        if other is None:
            return None
        return (
            f"the case keys of this database are under keyring {other}, which is not at "
            f"{self.keyring_file.path}: copy that file there (see docs/keys.md); no new keyring was made"
        )

    def new_case_key(self, session: Session, case_id: str) -> bytes:
        """A fresh data key for a new case, stored wrapped under the installation key and the keyring."""
        key, wrapped = self.make_case_key(case_id)
        save_case_key(session, case_id, wrapped, self.kek_id, self.keyring_id)
        return key

    def make_case_key(self, case_id: str) -> tuple[bytes, bytes]:
        """A fresh data key for a new case and its wrapped form (installation key and keyring leaf)."""
        key = new_case_key()
        return key, self.wrap(case_id, key)

    def wrap(self, case_id: str, key: bytes) -> bytes:
        """A case key wrapped under the current installation key and the case's keyring leaf."""
        return wrap_case_key(self.keyring().wrapping_key(self.kek, case_id), case_id, key)

    def unwrap(self, case_id: str, wrapped: bytes, key_id: str, keyring: str | None = None) -> bytes:
        """A case key opened with the installation key that wrapped it (and its keyring leaf, if any).

        Rows without a keyring come from before keyrings: wrapped under the installation key alone.
        """
        key = self._open(case_id, wrapped, key_id, keyring)
        if key is None:
            raise CryptoError(f"the key of case {case_id} was destroyed by erasure (keyring {keyring})")
        return key

    def _open(self, case_id: str, wrapped: bytes, key_id: str, keyring: str | None) -> bytes | None:
        kek = self.kek_for(key_id)
        if keyring is None:
            return unwrap_case_key(kek, case_id, wrapped)
        ring = self.keyring_file.current()
        if ring is None or ring.id != keyring:
            raise CryptoError(
                f"the key of case {case_id} is under keyring {keyring}, which is not at "
                f"{self.keyring_file.path} (see docs/keys.md)"
            )
        leaf = ring.leaf(case_id)
        if leaf is None:
            return None
        return unwrap_case_key(ring.wrapping_key_from_leaf(kek, leaf), case_id, wrapped)

    def case_key(self, session: Session, case_id: str) -> bytes | None:
        """The case's data key, or None once it was destroyed by erasure."""
        row = load_case_key(session, case_id)
        if row is None:
            return None
        return self._open(case_id, row.wrapped, row.kek_id, row.keyring)
