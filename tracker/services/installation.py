"""Which installation key this database belongs to: its fingerprint is stored by the first server or
command that runs with a key, and a process whose key does not match refuses to start."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from tracker.config import ConfigError, key_fingerprint
from tracker.crypto.codec import CryptoError
from tracker.services.runtime import Runtime
from tracker.store import installation


class KeyMismatch(ConfigError):
    """This process's data key is not the installation's; the message shows both fingerprints."""


def check_key(rt: Runtime, source: str = "TRACKER_DATA_KEY") -> str | None:
    """Refuse a data key that is not the installation's (on first use, record this one), then a process
    without the keyring that the database's case keys are under. Returns the stored fingerprint."""
    stored = _check_fingerprint(rt, source)
    if stored is not None:
        _check_keyring(rt)
    return stored


def _check_fingerprint(rt: Runtime, source: str) -> str | None:
    """Refuse a data key that is not the installation's; on first use, record this one.

    A database that stores a fingerprint accepts the current key and, while a rotation is under way,
    any of TRACKER_OLD_DATA_KEYS: the rotation records the new key's fingerprint when it ends. A database
    not yet migrated has nothing to protect. Returns the stored fingerprint (None when not migrated).
    """
    current = key_fingerprint(rt.kek)
    with rt.db.read() as session:
        if not installation.has_table(session):
            return None
        stored = installation.stored_fingerprint(session)
    if stored is None:
        _refuse_a_stranger(rt, source, current)
        try:
            with rt.db.write() as session:
                installation.insert_fingerprint(session, current, rt.now())
            return current
        except IntegrityError:  # another server stored its key's first: compare with that
            with rt.db.read() as session:
                stored = installation.stored_fingerprint(session)
    accepted = {current} | {key_fingerprint(k) for k in rt.old_keks}
    if stored not in accepted:
        raise KeyMismatch(
            f"data key fingerprint mismatch: this database belongs to the installation key with "
            f"fingerprint {stored}, but {source} has fingerprint {current}; start with the installation's "
            "key (to change keys: the new one in TRACKER_DATA_KEY, the old one in TRACKER_OLD_DATA_KEYS, "
            "then `tracker keys rotate`)"
        )
    return stored


def _check_keyring(rt: Runtime) -> None:
    """Refuse to start where the keyring that the database's case keys are under is not at hand: such a
    process could neither open those cases nor make new ones (docs/keys.md)."""
    with rt.db.read() as session:
        ids = installation.keyring_ids(session)
    if not ids:
        return
    try:
        ring = rt.keyring_file.current()
    except CryptoError as exc:
        raise ConfigError(f"the keyring at {rt.keyring_file.path} cannot be read: {exc}") from None
    if ring is None or ring.id not in ids:
        raise ConfigError(
            f"the case keys of this database are under keyring {', '.join(sorted(ids))}, which is not at "
            f"{rt.keyring_file.path}: copy that file there or name it in TRACKER_KEYRING_PATH (see "
            "docs/keys.md); no new keyring was made"
        )


def _refuse_a_stranger(rt: Runtime, source: str, current: str) -> None:
    """Before the first fingerprint is stored (a new database, or one made before fingerprints): a key
    that wraps none of the case keys already there is not the installation's, so it may not claim it."""
    with rt.db.read() as session:
        ids = installation.case_key_ids(session)
    if ids and not ids & rt.known_kek_ids:
        raise KeyMismatch(
            f"data key mismatch: the case keys in this database are wrapped under installation key "
            f"{', '.join(sorted(ids))}, but {source} (fingerprint {current}) is key {rt.kek_id}; "
            "start with the installation's key"
        )


def fingerprint_at(url: str) -> str | None:
    """The stored fingerprint of the database at `url`, for a process that has no runtime (`tracker info`)."""
    from tracker.db import Database

    db = Database(url)
    try:
        with db.read() as session:
            return installation.stored_fingerprint(session) if installation.has_table(session) else None
    finally:
        db.dispose()
