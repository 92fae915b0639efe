"""Configuration: config/tracker.toml, then TRACKER_CONFIG, then TRACKER_* variables, then test overrides."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

import platformdirs

from tracker.resources import DEFAULTS

DEFAULTS_PATH = DEFAULTS / "tracker.toml"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the setting."""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None


def _coerce(key: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"TRACKER_{key} must be true or false, not {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"TRACKER_{key} must be a whole number, not {raw!r}") from None
    return raw


def load_settings(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merged settings, validated: defaults, TRACKER_CONFIG file, environment, overrides."""
    settings = _read_toml(DEFAULTS_PATH)
    extra = os.environ.get("TRACKER_CONFIG")
    if extra:
        for key, value in _read_toml(Path(extra)).items():
            if key not in settings:
                raise ConfigError(f"{extra}: unknown setting {key!r}")
            settings[key] = value
    for key, default in list(settings.items()):
        raw = os.environ.get(f"TRACKER_{key}")
        if raw is not None:
            settings[key] = _coerce(key, raw, default)
    settings.update(overrides or {})
    for key in ("SESSION_IDLE_MINUTES", "SIGNIN_MAX_ATTEMPTS", "PAGE_SIZE", "SERVE_WORKERS"):
        if not isinstance(settings.get(key), int) or settings[key] < 1:
            raise ConfigError(f"{key} must be a positive whole number")
    return settings


def decode_data_key(value: str, source: str) -> bytes:
    """The 32-byte installation data key from its URL-safe base64 form."""
    try:
        key = base64.urlsafe_b64decode(value.strip().encode() + b"=" * (-len(value.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ConfigError(f"{source} is not URL-safe base64") from None
    if len(key) != 32:
        raise ConfigError(f"{source} must decode to 32 bytes, not {len(key)}")
    return key


def instance_secret(instance_path: Path, name: str, make: Any) -> str:
    """A secret kept in the instance folder, made on first use and readable by the owner only."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    make_instance_folder(instance_path)
    value: str = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def new_data_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def new_secret_key() -> str:
    return secrets.token_hex(32)


def make_instance_folder(path: Path) -> None:
    """Create the instance folder, if missing, open to its owner only: it holds the keys and maybe
    the database. (A folder that exists keeps the mode it has.)"""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)


def instance_path() -> Path:
    """The instance folder: TRACKER_INSTANCE_PATH, else the platform's user data folder for the tracker
    (on Linux `~/.local/share/tracker`, or under `$XDG_DATA_HOME`), never inside the installed package."""
    named = os.environ.get("TRACKER_INSTANCE_PATH")
    if named:
        return Path(named).expanduser().resolve()
    return platformdirs.user_data_path("tracker", appauthor=False).resolve()


def database_url(settings: dict[str, Any], instance: Path) -> str:
    """The configured URL, or an SQLite file in the instance folder."""
    url = str(settings.get("DATABASE_URL") or "")
    if url:
        return url
    make_instance_folder(instance)
    return f"sqlite:///{instance / 'tracker.db'}"
