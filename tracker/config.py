"""Configuration: tracker/defaults/tracker.toml, then TRACKER_CONFIG, then TRACKER_* variables, then test
overrides; and where the installation data key comes from."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from tracker import clock
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


def display_path(path: Path) -> str:
    """A path as an error message shows it: relative to the working folder when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_rules_toml(path: Path, error: type[ConfigError], what: str) -> dict[str, Any]:
    """A rules file (`what`: e.g. "rules file") as TOML; one-line `error`s naming the file."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise error(f"{display_path(path)}: cannot read the {what} ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{display_path(path)}: not valid TOML: {exc}") from None


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
    try:
        clock.zone_named(settings.get("TIME_ZONE"))
    except clock.UnknownZone as exc:
        raise ConfigError(f"TIME_ZONE: {exc}") from None
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


def database_url(settings: dict[str, Any], instance: Path, create: bool = True) -> str:
    """The configured URL, or an SQLite file in the instance folder (made unless `create` is false)."""
    url = str(settings.get("DATABASE_URL") or "")
    if url:
        return url
    if create:
        make_instance_folder(instance)
    return f"sqlite:///{instance / 'tracker.db'}"


def is_postgres_url(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def key_fingerprint(key: bytes) -> str:
    """The installation key's fingerprint as stored in the database: HMAC-SHA-256 of a fixed label
    under the key, 128 bits in hex. It tells keys apart and says nothing about the key."""
    return hmac.new(key, b"tracker key fingerprint", hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class DataKey:
    """The installation data key and where it came from (for `tracker info` and error messages)."""

    key: bytes = field(repr=False)
    source: str

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.key)


def _setting_source(name: str) -> str:
    """Where a setting's value came from, as an operator would look for it."""
    if os.environ.get(f"TRACKER_{name}"):
        return f"TRACKER_{name}"
    extra = os.environ.get("TRACKER_CONFIG")
    return f"{name} in {extra}" if extra else name


def data_key(settings: dict[str, Any], instance: Path, url: str) -> DataKey:
    """The installation data key: DATA_KEY, else the file named by DATA_KEY_FILE, else (SQLite only)
    the file `data_key` in the instance folder, made on first use.

    On PostgreSQL the tracker never makes a key: app servers on several hosts would each make their
    own and write cases the others cannot read. Without one it refuses to start, saying how to make one.
    """
    found = configured_data_key(settings, instance, url)
    if found is not None:
        return found
    path = instance / "data_key"
    made = instance_secret(instance, "data_key", new_data_key)
    return DataKey(decode_data_key(made, str(path)), _made(path))


def configured_data_key(settings: dict[str, Any], instance: Path, url: str) -> DataKey | None:
    """The data key as `data_key` finds it, but never made: None on SQLite before the first start."""
    if settings.get("DATA_KEY"):
        source = _setting_source("DATA_KEY")
        return DataKey(decode_data_key(str(settings["DATA_KEY"]), source), source)
    if settings.get("DATA_KEY_FILE"):
        path = Path(str(settings["DATA_KEY_FILE"])).expanduser().resolve()
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a key file"
            raise ConfigError(f"DATA_KEY_FILE {path}: {reason}") from None
        return DataKey(decode_data_key(text, f"DATA_KEY_FILE {path}"), f"key file {path} (DATA_KEY_FILE)")
    path = instance / "data_key"
    if is_postgres_url(url):
        earlier = f" (the key an earlier version made is in {path})" if path.exists() else ""
        raise ConfigError(
            "no data key: on PostgreSQL the tracker never makes one itself; make one with "
            "`tracker keys generate` and give it in TRACKER_DATA_KEY or in a file named by "
            f"TRACKER_DATA_KEY_FILE{earlier}"
        )
    if not path.exists():
        return None
    return DataKey(decode_data_key(path.read_text(), str(path)), _made(path))


def _made(path: Path) -> str:
    return f"generated file {path} (SQLite only)"
