"""The keyring: a puncturable key tree, kept outside the database, that erasure can really destroy.

A case key is wrapped under a key made of two secrets: the installation key and the case's leaf of
the keyring's tree. The tree is binary, 64 levels deep; a case's leaf is found by the first 64 bits
of a hash of its id, and every node's two children are keyed BLAKE2b of the node with the bit:

    child(node, bit) = BLAKE2b-256(bit, key=node)          wrapping key = HMAC(kek, id + leaf)

The keyring keeps a set of nodes that together derive every leaf still allowed. Erasing a case
"punctures" the tree: the node above its leaf is replaced by the siblings along the path down, so
every other leaf still derives and the erased one derives from nothing that is left (64 nodes
more, about 5 KB, per erasure). Old wrapped copies of the erased case key (in a database's heap,
its WAL, a backup) then open with no key that exists. The keyring also lists the erased cases and
when (the erasure ledger), so a restore of an older backup knows of later erasures.

The file lives outside the database (by default `instance/keyring`), is replaced as a whole under
an exclusive lock, and its old content is overwritten in place before the new one is renamed over
it (docs/keys.md says where this ends).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tracker.crypto.codec import CryptoError

DEPTH = 64
MAGIC = "TRACKER-KEYRING 1"
_ID = re.compile(r"^[0-9a-f]{16}$")


def leaf_path(case_id: str) -> int:
    """The case's place among the tree's leaves (64 bits of a hash of its id)."""
    return int.from_bytes(hashlib.sha256(b"tracker keyring path\0" + case_id.encode()).digest()[:8], "big")


def _child(node: bytes, bit: int) -> bytes:
    return hashlib.blake2b(bytes([bit]), key=node, digest_size=32, person=b"tracker-keyring").digest()


@dataclass
class Keyring:
    """The nodes that still derive a leaf, and the ledger of erased cases (case id -> when)."""

    id: str
    nodes: dict[tuple[int, int], bytes] = field(repr=False)
    erased: dict[str, str] = field(default_factory=dict)

    @classmethod
    def new(cls) -> Keyring:
        return cls(secrets.token_hex(8), {(0, 0): secrets.token_bytes(32)})

    def leaf(self, case_id: str) -> bytes | None:
        """The case's leaf secret, or None when it was punctured (the case was erased)."""
        path = leaf_path(case_id)
        for depth in range(DEPTH + 1):
            node = self.nodes.get((depth, path >> (DEPTH - depth)))
            if node is not None:
                for level in range(depth, DEPTH):
                    node = _child(node, (path >> (DEPTH - 1 - level)) & 1)
                return node
        return None

    def wrapping_key(self, kek: bytes, case_id: str) -> bytes:
        """The key that wraps this case's key: needs the installation key and the case's leaf."""
        leaf = self.leaf(case_id)
        if leaf is None:
            raise CryptoError(f"the key of case {case_id} was destroyed by erasure (keyring {self.id})")
        return self.wrapping_key_from_leaf(kek, leaf)

    def wrapping_key_from_leaf(self, kek: bytes, leaf: bytes) -> bytes:
        return hmac.digest(kek, b"tracker case key wrap v2\0" + self.id.encode() + leaf, "sha256")

    def puncture(self, case_id: str, when: str) -> bool:
        """Make the case's leaf underivable for good and note it in the ledger; False if it was already."""
        self.erased.setdefault(case_id, when)
        path = leaf_path(case_id)
        for depth in range(DEPTH + 1):
            node = self.nodes.pop((depth, path >> (DEPTH - depth)), None)
            if node is not None:
                for level in range(depth, DEPTH):
                    bit = (path >> (DEPTH - 1 - level)) & 1
                    self.nodes[(level + 1, (path >> (DEPTH - 1 - level)) ^ 1)] = _child(node, bit ^ 1)
                    node = _child(node, bit)
                return True
        return False

    def dumps(self) -> bytes:
        lines = [f"{MAGIC} {self.id}"]
        lines += [f"node {d} {p:016x} {k.hex()}" for (d, p), k in sorted(self.nodes.items())]
        lines += [f"erased {case} {when}" for case, when in sorted(self.erased.items())]
        lines.append(f"end {len(self.nodes)} {len(self.erased)}")
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def loads(cls, raw: bytes, source: str) -> Keyring:
        try:
            lines = raw.decode("ascii").splitlines()
            magic, _, ident = lines[0].rpartition(" ")
            if magic != MAGIC or not _ID.match(ident):
                raise ValueError("header")
            nodes: dict[tuple[int, int], bytes] = {}
            erased: dict[str, str] = {}
            for line in lines[1:-1]:
                kind, *rest = line.split(" ")
                if kind == "node":
                    depth, prefix, key = int(rest[0]), int(rest[1], 16), bytes.fromhex(rest[2])
                    if not 0 <= depth <= DEPTH or len(key) != 32 or prefix >> depth:
                        raise ValueError("node")
                    nodes[(depth, prefix)] = key
                elif kind == "erased" and len(rest) == 2:
                    erased[rest[0]] = rest[1]
                else:
                    raise ValueError("line")
            if lines[-1] != f"end {len(nodes)} {len(erased)}":
                raise ValueError("end")
        except (UnicodeDecodeError, ValueError, IndexError):
            raise CryptoError(f"the keyring {source} is damaged or cut short") from None
        return cls(ident, nodes, erased)


class KeyringFile:
    """The keyring on disk, re-read whenever another process changed it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._new = path.with_name(path.name + ".new")
        self._lock = path.with_name(path.name + ".lock")
        self._seen: tuple[int, int, int] | None = None
        self._ring: Keyring | None = None

    def exists(self) -> bool:
        return self.path.exists()

    def current(self) -> Keyring | None:
        """The keyring as it is on disk now, or None when there is none yet."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._seen = self._ring = None
            return None
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        if seen != self._seen or self._ring is None:
            with self._locked(fcntl.LOCK_SH):
                self._ring = Keyring.loads(self.path.read_bytes(), str(self.path))
                st = os.stat(self.path)
                self._seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        return self._ring

    def create(self, refuse: Callable[[], str | None]) -> Keyring:
        """The keyring, made now if there is none; `refuse` may name why a new one must not be made."""
        with self._locked(fcntl.LOCK_EX):
            self._recover()
            if not self.path.exists():
                reason = refuse()
                if reason:
                    raise CryptoError(reason)
                self._write(Keyring.new())
        ring = self.current()
        assert ring is not None
        return ring

    def update(self, change: Callable[[Keyring], bool]) -> Keyring | None:
        """Apply `change` to the keyring under the exclusive lock; write it when it says it changed."""
        with self._locked(fcntl.LOCK_EX):
            self._recover()
            if not self.path.exists():
                return None
            ring = Keyring.loads(self.path.read_bytes(), str(self.path))
            if change(ring):
                self._write(ring)
        return self.current()

    @contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self._lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)

    def _recover(self) -> None:
        # A complete .new file was fsynced before the old one was shredded: finish replacing it.
        if not self._new.exists():
            return
        try:
            Keyring.loads(self._new.read_bytes(), str(self._new))
        except CryptoError:
            self._new.unlink()
            return
        _shred(self.path)
        os.replace(self._new, self.path)
        _sync_dir(self.path.parent)

    def _write(self, ring: Keyring) -> None:
        fd = os.open(self._new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(ring.dumps())
            fh.flush()
            os.fsync(fh.fileno())
        _shred(self.path)
        os.replace(self._new, self.path)
        _sync_dir(self.path.parent)


def _shred(path: Path) -> None:
    """Overwrite a file's bytes in place before it is replaced, so its old blocks do not keep them."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    with os.fdopen(fd, "wb") as fh:
        size = os.fstat(fh.fileno()).st_size
        fh.write(b"\0" * size)
        fh.flush()
        os.fsync(fh.fileno())


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
