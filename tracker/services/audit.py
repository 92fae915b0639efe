"""The organization-wide audit log: append-only records of security-relevant actions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from tracker.auth.tables import AuditRow

# The actions the log knows; filters and exports offer these.
ACTIONS = (
    "signin",
    "signin_failed",
    "signout",
    "user_created",
    "user_changed",
    "password_reset",
    "second_factor_enabled",
    "second_factor_disabled",
    "token_created",
    "token_revoked",
    "setting_changed",
    "export",
    "erasure",
    "key_rotation",
    "backup",
    "restore",
)


def record(
    session: Session,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | str | None = None,
    address: str | None = None,
) -> None:
    """Add one audit record in the caller's transaction; never include sensitive case fields."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    text = json.dumps(detail, sort_keys=True, ensure_ascii=False) if isinstance(detail, dict) else detail
    session.add(
        AuditRow(
            at=datetime.now(UTC), actor=actor, action=action, target=target, detail=text, address=address
        )
    )
