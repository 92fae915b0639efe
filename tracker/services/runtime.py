"""What every service needs: the database, the installation key, the deadline rules, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from tracker.crypto.codec import kek_id, new_case_key, unwrap_case_key, wrap_case_key
from tracker.db import Database
from tracker.deadlines.rules import Rules
from tracker.store.events import load_case_key, save_case_key


class NotFound(Exception):
    """The thing does not exist, or the caller may not know that it does."""


class Forbidden(Exception):
    """The caller sees the thing but may not do this to it."""


@dataclass
class Runtime:
    db: Database
    kek: bytes
    rules: Rules
    settings: dict = field(default_factory=dict)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @property
    def kek_id(self) -> str:
        return kek_id(self.kek)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.clock().date()

    def new_case_key(self, session: Session, case_id: str) -> bytes:
        key = new_case_key()
        save_case_key(session, case_id, wrap_case_key(self.kek, case_id, key), self.kek_id)
        return key

    def case_key(self, session: Session, case_id: str) -> bytes | None:
        """The case's data key, or None once it was destroyed by erasure."""
        row = load_case_key(session, case_id)
        if row is None:
            return None
        return unwrap_case_key(self.kek, case_id, row.wrapped)
