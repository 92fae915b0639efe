"""The one codec for sensitive fields: AES-GCM under a per-case key, wrapped by the installation key."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENC = "$enc"
ERASED = "[erased]"


class CryptoError(Exception):
    """A key is missing or does not open what it should."""


def kek_id(kek: bytes) -> str:
    """A short public name of an installation key (never the key itself)."""
    return hashlib.sha256(b"tracker-kek" + kek).hexdigest()[:16]


def new_case_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap_case_key(kek: bytes, case_id: str, case_key: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(kek).encrypt(nonce, case_key, b"case-key:" + case_id.encode())


def unwrap_case_key(kek: bytes, case_id: str, wrapped: bytes) -> bytes:
    try:
        return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], b"case-key:" + case_id.encode())
    except InvalidTag:
        raise CryptoError(
            f"the data key of case {case_id} does not open with this installation key"
        ) from None


def is_encrypted(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(ENC), str)


def _aad(case_id: str, event_id: str, path: str) -> bytes:
    # Binding the ciphertext to its case, event and field stops a value being moved elsewhere.
    return f"{case_id}/{event_id}/{path}".encode()


def encrypt_value(case_key: bytes, case_id: str, event_id: str, path: str, value: Any) -> dict[str, str]:
    nonce = os.urandom(12)
    plain = json.dumps(value, ensure_ascii=False).encode()
    sealed = AESGCM(case_key).encrypt(nonce, plain, _aad(case_id, event_id, path))
    return {ENC: base64.b64encode(nonce + sealed).decode()}


def decrypt_value(case_key: bytes, case_id: str, event_id: str, path: str, value: dict[str, str]) -> Any:
    raw = base64.b64decode(value[ENC])
    try:
        plain = AESGCM(case_key).decrypt(raw[:12], raw[12:], _aad(case_id, event_id, path))
    except InvalidTag:
        raise CryptoError(f"a sensitive field of case {case_id} does not decrypt") from None
    return json.loads(plain)


def seal_fields(
    data: dict[str, Any],
    sensitive: frozenset[str],
    case_key: bytes,
    case_id: str,
    event_id: str,
    prefix: str = "",
) -> dict[str, Any]:
    """A copy of `data` with its sensitive fields encrypted."""
    out = dict(data)
    for name in sensitive:
        if name in out:
            out[name] = encrypt_value(case_key, case_id, event_id, prefix + name, out[name])
    return out


def open_fields(
    data: dict[str, Any], case_key: bytes | None, case_id: str, event_id: str, prefix: str = ""
) -> dict[str, Any]:
    """A copy of `data` with encrypted fields opened, or shown as erased when the key is gone."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        if is_encrypted(value):
            out[name] = (
                ERASED
                if case_key is None
                else decrypt_value(case_key, case_id, event_id, prefix + name, value)
            )
        elif isinstance(value, dict) and name == "data" and not prefix:
            out[name] = open_fields(value, case_key, case_id, event_id, "data.")
        else:
            out[name] = value
    return out


def strip_fields(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A copy of `data` without its encrypted fields: what auditors and projections see."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        if is_encrypted(value):
            continue
        if isinstance(value, dict) and name == "data" and not prefix:
            out[name] = strip_fields(value, "data.")
        else:
            out[name] = value
    return out


def _blob_aad(case_id: str, name: str) -> bytes:
    return f"file:{case_id}/{name}".encode()


def seal_blob(case_key: bytes, case_id: str, name: str, plain: bytes) -> bytes:
    """A file's bytes encrypted under the case key, bound to the case and the file's name in the store."""
    nonce = os.urandom(12)
    return nonce + AESGCM(case_key).encrypt(nonce, plain, _blob_aad(case_id, name))


def open_blob(case_key: bytes, case_id: str, name: str, sealed: bytes) -> bytes:
    """The plain bytes of a stored file; CryptoError when they were altered or belong elsewhere."""
    try:
        return AESGCM(case_key).decrypt(sealed[:12], sealed[12:], _blob_aad(case_id, name))
    except (InvalidTag, ValueError):
        raise CryptoError(f"a stored file of case {case_id} does not decrypt") from None
