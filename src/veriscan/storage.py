"""Content-addressed blob storage on the local disk (or a shared mount).

A blob lives at blobs/ab/cd/<sha256>. It is written to a temporary file in the same
file system while md5, sha1 and sha256 are computed in the same pass, fsynced, and only
then renamed into place, so a reader never sees a partial blob and a crash leaves at most
a temporary file, which `sweep_temporary` removes.

A large blob's pages are handed to the disk while it is still arriving (Linux's
sync_file_range, started every WRITEBACK_BYTES), so the fsync at the end waits for the
last few megabytes rather than for the whole file.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

Buffer = bytes | bytearray | memoryview

TMP_DIR_NAME = "tmp"
WRITEBACK_BYTES = 8 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2  # start writing the range out; do not wait


def _sync_file_range() -> Callable[[int, int, int], None] | None:
    """Linux's sync_file_range(fd, offset, nbytes, SYNC_FILE_RANGE_WRITE), or None where
    the C library has none (the final fsync then does all the work, as elsewhere)."""
    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (AttributeError, OSError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int

    def start_writeback(fd: int, offset: int, length: int) -> None:
        call(fd, offset, length, _SYNC_FILE_RANGE_WRITE)  # a failure only loses the head start

    return start_writeback


START_WRITEBACK = _sync_file_range()


@dataclass(frozen=True)
class Digests:
    md5: str
    sha1: str
    sha256: str
    size: int


class BlobWriter:
    """A temporary blob being written: hashes as it goes, becomes a blob on `place`."""

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self.path = store.tmp_dir / f"{secrets.token_hex(16)}.part"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file: BinaryIO | None = os.fdopen(fd, "wb", buffering=0)
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self.size = 0
        self._written_back = 0  # bytes whose writeback has been started
        self.digests: Digests | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        for lane in self.lanes():
            lane(data)

    def lanes(self) -> tuple[Callable[[Buffer], None], Callable[[Buffer], None]]:
        """Two halves of `write` that may run at the same time on different threads.

        hashlib releases the GIL on large buffers, so a caller with two threads gets md5
        (the slowest digest) in parallel with sha1 and sha256. Each lane must still see
        the pieces in order.
        """
        return self._md5_and_disk, self._sha1_and_sha256

    def _md5_and_disk(self, data: Buffer) -> None:
        assert self._file is not None, "write after finish"
        self._md5.update(data)
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]
        self.size += len(data)
        if START_WRITEBACK is not None and self.size - self._written_back >= WRITEBACK_BYTES:
            START_WRITEBACK(self._file.fileno(), self._written_back, self.size - self._written_back)
            self._written_back = self.size

    def _sha1_and_sha256(self, data: Buffer) -> None:
        self._sha1.update(data)
        self._sha256.update(data)

    def finish(self) -> Digests:
        """Flush to disk and return the digests; the content is durable after this."""
        assert self._file is not None, "finish twice"
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        self.digests = Digests(
            md5=self._md5.hexdigest(),
            sha1=self._sha1.hexdigest(),
            sha256=self._sha256.hexdigest(),
            size=self.size,
        )
        return self.digests

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / TMP_DIR_NAME
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

    def place(self, writer: BlobWriter) -> Path:
        """Rename a finished temporary file into its content address.

        Callers hold the blob's database lock, so placing and removing the same content
        never interleave. Identical content may already be there: replacing it is harmless.
        """
        assert writer.digests is not None, "place before finish"
        target = self.path_for(writer.digests.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(writer.path, target)
        _fsync_dir(target.parent)
        return target

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def open(self, sha256: str) -> BinaryIO:
        return self.path_for(sha256).open("rb")

    def bury(self, sha256: str) -> Path | None:
        """Move a blob aside before its removal is committed; `restore` undoes it.

        Renaming while the blob's row is locked means an upload of the same content that
        waits for that lock always finds the address free, whatever happens afterwards.
        """
        grave = self.tmp_dir / f"{sha256}.{secrets.token_hex(4)}.grave"
        try:
            os.replace(self.path_for(sha256), grave)
        except FileNotFoundError:
            return None
        return grave

    def restore(self, sha256: str, grave: Path) -> None:
        os.replace(grave, self.path_for(sha256))

    def sweep_temporary(self, older_than_seconds: float = 3600) -> int:
        """Remove temporary files left by a crash; returns how many were removed."""
        removed = 0
        cutoff = time.time() - older_than_seconds
        for path in [*self.tmp_dir.glob("*.part"), *self.tmp_dir.glob("*.grave")]:
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
