"""Where attachments' encrypted bytes live: a small interface, and a folder that implements it.

Another store (an S3-compatible bucket, say) implements the same four methods; the services never
see more than this. The store only ever holds ciphertext, named by opaque ids, one group per case.
"""

from __future__ import annotations

import os
import re
import shutil
from abc import ABC, abstractmethod
from pathlib import Path

_NAME = re.compile(r"^[0-9a-f-]{36}(\.thumb)?$")


class FileStore(ABC):
    """Encrypted blobs, by case and opaque name."""

    @abstractmethod
    def put(self, case_id: str, name: str, blob: bytes) -> None:
        """Store `blob` (ciphertext) for good under the case and name."""

    @abstractmethod
    def get(self, case_id: str, name: str) -> bytes | None:
        """The stored blob, or None when there is none."""

    @abstractmethod
    def delete(self, case_id: str, name: str) -> None:
        """Remove one blob (after a failed write); no error when it is absent."""

    @abstractmethod
    def delete_case(self, case_id: str) -> int:
        """Remove every blob of a case (erasure); returns how many there were."""


def _checked(case_id: str, name: str) -> None:
    # Names come from the tracker (UUIDs), never from a user; still, nothing may climb out of the folder.
    if not _NAME.match(name) or not _NAME.match(case_id):
        raise ValueError("not a name of the file store")


class FolderStore(FileStore):
    """Blobs as files `<root>/<case id>/<name>`, readable by the owner only."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, case_id: str, name: str) -> Path:
        _checked(case_id, name)
        return self.root / case_id / name

    def put(self, case_id: str, name: str, blob: bytes) -> None:
        path = self._path(case_id, name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(path.name + ".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, path)

    def get(self, case_id: str, name: str) -> bytes | None:
        try:
            return self._path(case_id, name).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, case_id: str, name: str) -> None:
        self._path(case_id, name).unlink(missing_ok=True)

    def delete_case(self, case_id: str) -> int:
        _checked(case_id, case_id)
        folder = self.root / case_id
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.iterdir() if p.is_file())
        shutil.rmtree(folder)
        return count
