"""Content-addressed blob storage on the local disk (or a shared mount).

A blob lives at blobs/ab/cd/<sha256>. It is written to a temporary file in the same
file system while md5, sha1 and sha256 are computed in the same pass, fsynced, and only
then renamed into place, so a reader never sees a partial blob and a crash leaves at most
a temporary file, which `sweep_temporary` removes.

A large blob's pages are handed to the disk while it is still arriving (Linux's
sync_file_range, started every WRITEBACK_BYTES), so the fsync at the end waits for the
last few megabytes rather than for the whole file. Past DIRECT_AFTER bytes it goes to the
disk without the page cache at all (O_DIRECT, from a page-aligned staging buffer, where
the file system allows it): on this project's virtual machines, putting a gigabyte into
the page cache cost 0.3 to 3 s of kernel time depending on the moment, and writing it
directly 0.15 to 0.2 s (docs/benchmarks.md). The first megabytes and the last partial
block are written through the cache as before.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import mmap
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
DIRECT_AFTER = 16 * 1024 * 1024  # bytes written through the page cache before O_DIRECT
DIRECT_ALIGN = 4096  # O_DIRECT offsets, lengths and buffers: a multiple of the block size
DIRECT_STAGE = 4 * 1024 * 1024  # the aligned buffer data is gathered in, then written
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

    def __init__(self, store: BlobStore, *, direct_after: int | None = DIRECT_AFTER) -> None:
        self._store = store
        # The temporary file is made at the first write (`_opened`), not here: a form's
        # receiver makes its writer on the event loop, and making a file in a directory
        # (and the random name) took 0.5 ms of the loop's time an upload under load.
        self._path: Path | None = None
        self._file: BinaryIO | None = None
        self._ended = False  # finished or discarded
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self.size = 0  # bytes given to the disk lane
        self._written_back = 0  # bytes whose writeback has been started
        # None: never direct (the file system refused it, or not asked for).
        self._direct_after = direct_after
        self._stage: mmap.mmap | None = None  # page-aligned, while writing directly
        self._staged = 0
        self.direct_bytes = 0  # bytes that went to the disk without the page cache
        self.digests: Digests | None = None
        self.staged = False  # linked at its address by BlobStore.stage

    @property
    def path(self) -> Path:
        """The temporary file (there from the first write, or from `finish`)."""
        assert self._path is not None, "no file before the first write"
        return self._path

    def _opened(self) -> BinaryIO:
        assert not self._ended, "write after finish"
        if self._file is None:
            self._path = self._store.tmp_dir / f"{secrets.token_hex(16)}.part"
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._file = os.fdopen(fd, "wb", buffering=0)
        return self._file

    def write(self, data: bytes | bytearray | memoryview) -> None:
        for lane in self.lanes():
            lane(data)

    def lanes(
        self,
    ) -> tuple[Callable[[Buffer], None], Callable[[Buffer], None], Callable[[Buffer], None]]:
        """Three parts of `write` that may run at the same time on different threads.

        hashlib releases the GIL on large buffers, and so does a write while the disk
        takes it, so a caller with three threads gets md5 (the slowest digest), sha1 with
        sha256, and the disk side by side. Each lane must still see the pieces in order.
        """
        return self._md5_lane, self._sha1_and_sha256, self._disk

    def _md5_lane(self, data: Buffer) -> None:
        self._md5.update(data)

    def _sha1_and_sha256(self, data: Buffer) -> None:
        self._sha1.update(data)
        self._sha256.update(data)

    def _disk(self, data: Buffer) -> None:
        self._opened()
        view = memoryview(data).cast("B")
        if self._stage is None and self._direct_after is not None:
            # Through the cache up to the first block boundary past DIRECT_AFTER.
            boundary = -(-max(self._direct_after, self.size) // DIRECT_ALIGN) * DIRECT_ALIGN
            if self.size + len(view) >= boundary:
                head = boundary - self.size
                self._cached(view[:head])
                view = view[head:]
                self._go_direct()
        while view:
            if self._stage is None:  # not (or no longer) writing directly
                self._cached(view)
                return
            room = DIRECT_STAGE - self._staged
            piece = view[:room]
            self._stage[self._staged : self._staged + len(piece)] = piece
            self._staged += len(piece)
            self.size += len(piece)
            view = view[len(piece) :]
            if self._staged == DIRECT_STAGE:
                self._write_stage()

    def _cached(self, view: memoryview) -> None:
        assert self._file is not None
        self.size += len(view)
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]
        if START_WRITEBACK is not None and self.size - self._written_back >= WRITEBACK_BYTES:
            START_WRITEBACK(self._file.fileno(), self._written_back, self.size - self._written_back)
            self._written_back = self.size

    def _go_direct(self) -> None:
        assert self._file is not None
        fd = self._file.fileno()
        try:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
        except OSError:
            self._direct_after = None  # this file system has no direct I/O
            return
        self._stage = mmap.mmap(-1, DIRECT_STAGE)  # anonymous: page-aligned
        self._staged = 0

    def _write_stage(self) -> None:
        """Write the staged bytes: their whole blocks directly, and when the stage is
        being emptied for good, any last partial block through the cache."""
        assert self._file is not None and self._stage is not None
        fd = self._file.fileno()
        whole = self._staged - self._staged % DIRECT_ALIGN
        view = memoryview(self._stage)[: self._staged]
        done = 0
        try:
            while done < whole:
                written = os.write(fd, view[done:whole])
                if written <= 0 or written % DIRECT_ALIGN:
                    done += max(written, 0)
                    break
                done += written
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                view.release()
                raise
        self.direct_bytes += done
        staged, self._staged = self._staged, 0
        if done < staged:  # the tail, or what direct I/O refused: through the cache, and
            self._leave_direct()  # so is everything after it
            while done < staged:
                done += os.write(fd, view[done:staged])
            view.release()
            self._close_stage()
            return
        view.release()

    def _leave_direct(self) -> None:
        assert self._file is not None
        fd = self._file.fileno()
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
        self._direct_after = None

    def _close_stage(self) -> None:
        if self._stage is not None:
            self._stage.close()
            self._stage = None

    def finish(self) -> Digests:
        """Flush to disk and return the digests; the content is durable after this."""
        assert not self._ended, "finish twice"
        file = self._opened()  # an empty file was never written to
        if self._stage is not None:
            if self._staged:
                self._write_stage()
            self._close_stage()
        os.fsync(file.fileno())
        file.close()
        self._file = None
        self._ended = True
        self.digests = Digests(
            md5=self._md5.hexdigest(),
            sha1=self._sha1.hexdigest(),
            sha256=self._sha256.hexdigest(),
            size=self.size,
        )
        return self.digests

    def discard(self) -> None:
        self._close_stage()
        self._ended = True
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)


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

    def stage(self, writer: BlobWriter) -> None:
        """Before the transaction that will `place` it: link the finished temporary file at
        its content address too (unless identical content is there already), durably.

        On SQLite that transaction holds the one writer lock from its first statement, and
        the directory's fsync took about a millisecond of it. Linking is safe without the
        blob's lock: a deletion that moves the content aside in between is seen by `place`,
        which links it again. Where the file system has no hard links, `place` renames.
        """
        assert writer.digests is not None, "stage before finish"
        target = self.path_for(writer.digests.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(writer.path, target)
        except FileExistsError:
            pass
        except OSError:  # no hard links here (some network file systems)
            return
        _fsync_dir(target.parent)
        writer.staged = True

    def place(self, writer: BlobWriter) -> Path:
        """Put a finished temporary file at its content address.

        Callers hold the blob's database lock, so placing and removing the same content
        never interleave. Identical content may already be there: replacing it is harmless.
        A staged writer's content is normally there already; if a deletion moved it aside
        since, it is linked again. The temporary file goes when the writer is discarded.
        """
        assert writer.digests is not None, "place before finish"
        target = self.path_for(writer.digests.sha256)
        if writer.staged:
            if not target.exists():
                os.link(writer.path, target)
                _fsync_dir(target.parent)
            return target
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
