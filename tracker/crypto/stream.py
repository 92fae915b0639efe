"""A sealed stream: a file encrypted and authenticated as a whole, in chunks (for backups).

Layout: one text header line, then chunks. The header names the format version, the id of the
installation key the stream key is derived from, a random salt and the chunk size:

    TRACKER-BACKUP 1 <kek_id> <salt hex> <chunk size>\\n

The stream key is HKDF-SHA256(installation key, salt, "tracker backup v1"), so it is new for every
file. Each chunk is a 4-byte big-endian length (its top bit marks the final chunk) and AES-GCM
ciphertext whose nonce is the chunk's number and the final flag, and whose associated data is the
header. So a changed header, a changed, dropped, repeated or reordered chunk, a file cut short (no
final chunk) or bytes after the final chunk are all detected.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = "TRACKER-BACKUP"
VERSION = 1
DEFAULT_CHUNK = 1 << 20
MIN_CHUNK, MAX_CHUNK = 64, 1 << 26
_FINAL = 0x8000_0000
_TAG = 16
_HEADER = re.compile(rb"^TRACKER-BACKUP (\d{1,4}) ([0-9a-f]{16}) ([0-9a-f]{32}) (\d{1,9})\n$")


class StreamError(Exception):
    """The stream cannot be opened: not one, truncated, altered, or sealed under an unknown key."""


@dataclass(frozen=True)
class Header:
    version: int
    kek_id: str
    salt: bytes
    chunk_size: int
    raw: bytes


def stream_key(kek: bytes, salt: bytes) -> bytes:
    """The key of one stream, derived from the installation key (never the installation key itself)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"tracker backup v1").derive(kek)


def _nonce(number: int, final: bool) -> bytes:
    return number.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


class SealedWriter:
    """Writes a sealed stream; call close() to write the final chunk."""

    def __init__(self, out: BinaryIO, kek: bytes, kek_id: str, chunk_size: int = DEFAULT_CHUNK) -> None:
        if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
            raise ValueError(f"chunk size must be between {MIN_CHUNK} and {MAX_CHUNK}")
        salt = os.urandom(16)
        self.header = f"{MAGIC} {VERSION} {kek_id} {salt.hex()} {chunk_size}\n".encode()
        self._out, self._chunk = out, chunk_size
        self._aead = AESGCM(stream_key(kek, salt))
        self._buffer = bytearray()
        self._number = 0
        self.closed = False
        out.write(self.header)

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= self._chunk:
            # A chunk is final only at close(), even when the data ends exactly on a boundary.
            self._seal(bytes(self._buffer[: self._chunk]), final=False)
            del self._buffer[: self._chunk]

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), final=True)
            self._buffer.clear()
            self.closed = True

    def _seal(self, plain: bytes, final: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._number, final), plain, self.header)
        self._out.write(struct.pack(">I", len(sealed) | (_FINAL if final else 0)) + sealed)
        self._number += 1


def read_header(fh: BinaryIO) -> Header:
    """The header of a sealed stream; StreamError when the file is not one."""
    raw = fh.readline(200)
    if not raw.startswith(MAGIC.encode()):
        raise StreamError("not a tracker backup (the header is missing)")
    match = _HEADER.match(raw)
    if not match:
        raise StreamError("the backup header is damaged or truncated")
    version = int(match.group(1))
    if version != VERSION:
        raise StreamError(f"backup format version {version} is not supported (this tracker reads {VERSION})")
    size = int(match.group(4))
    if not MIN_CHUNK <= size <= MAX_CHUNK:
        raise StreamError("the backup header is damaged (impossible chunk size)")
    return Header(version, match.group(2).decode(), bytes.fromhex(match.group(3).decode()), size, raw)


def _read_exact(fh: BinaryIO, n: int) -> bytes | None:
    data = fh.read(n)
    return data if len(data) == n else None


def open_chunks(fh: BinaryIO, header: Header, kek: bytes) -> Iterator[bytes]:
    """The plain chunks in order; StreamError as soon as anything is missing, extra or altered."""
    aead = AESGCM(stream_key(kek, header.salt))
    number = 0
    while True:
        prefix = fh.read(4)
        if len(prefix) != 4:
            raise StreamError("the backup is truncated (its final chunk is missing)")
        (word,) = struct.unpack(">I", prefix)
        final, length = bool(word & _FINAL), word & ~_FINAL
        if not _TAG <= length <= header.chunk_size + _TAG:
            raise StreamError(f"the backup is damaged (chunk {number + 1} has an impossible length)")
        sealed = _read_exact(fh, length)
        if sealed is None:
            raise StreamError(f"the backup is truncated (chunk {number + 1} is cut short)")
        try:
            plain = aead.decrypt(_nonce(number, final), sealed, header.raw)
        except InvalidTag:
            raise StreamError(
                f"the backup does not authenticate: chunk {number + 1} was altered or damaged"
            ) from None
        yield plain
        number += 1
        if final:
            break
    if fh.read(1):
        raise StreamError("the backup has unexpected bytes after its end")
