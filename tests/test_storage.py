from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from veriscan.storage import DIRECT_ALIGN, DIRECT_STAGE, BlobStore, BlobWriter


def _direct_io(directory: Path) -> bool:
    """Whether files in this directory can be written with O_DIRECT."""
    probe = directory / "direct.probe"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
    except OSError:
        return False
    os.close(fd)
    probe.unlink()
    return True


def test_write_hash_and_place(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    writer = store.writer()
    chunks = [b"a" * 100_000, b"", b"b" * 3, bytearray(b"c" * 70_000), memoryview(b"d" * 5)]
    for chunk in chunks:
        writer.write(chunk)
    data = b"".join(bytes(c) for c in chunks)
    digests = writer.finish()
    assert digests.sha256 == hashlib.sha256(data).hexdigest()
    assert digests.sha1 == hashlib.sha1(data).hexdigest()
    assert digests.md5 == hashlib.md5(data).hexdigest()
    assert digests.size == len(data)
    path = store.place(writer)
    assert path == tmp_path / digests.sha256[:2] / digests.sha256[2:4] / digests.sha256
    assert path.read_bytes() == data
    assert list(store.tmp_dir.iterdir()) == []


def test_bury_and_restore(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    writer = store.writer()
    writer.write(b"content")
    sha = writer.finish().sha256
    store.place(writer)
    grave = store.bury(sha)
    assert grave is not None and not store.exists(sha)
    store.restore(sha, grave)
    assert store.exists(sha)
    assert store.bury("0" * 64) is None


def test_staged_content_is_at_its_address_before_the_transaction_and_after_a_deletion(
    tmp_path: Path,
) -> None:
    """`stage` links the content at its address before the blob's lock is taken; a deletion
    of the same content that moves it aside in between (as `releasing_blob` does) is seen
    by `place`, which links it again. The temporary name goes with `discard`."""
    store = BlobStore(tmp_path)
    writer = store.writer()
    writer.write(b"staged content")
    sha = writer.finish().sha256
    store.stage(writer)
    assert writer.staged and store.path_for(sha).read_bytes() == b"staged content"
    assert store.path_for(sha).stat().st_nlink == 2  # a link, not a copy

    grave = store.bury(sha)  # another user's deletion of the same content, committed
    assert grave is not None and not store.exists(sha)
    grave.unlink()
    store.place(writer)
    writer.discard()
    assert store.path_for(sha).read_bytes() == b"staged content"
    assert store.path_for(sha).stat().st_nlink == 1
    assert list(store.tmp_dir.iterdir()) == []

    again = store.writer()  # the same content again, while it is stored
    again.write(b"staged content")
    again.finish()
    store.stage(again)
    store.place(again)
    again.discard()
    assert store.path_for(sha).read_bytes() == b"staged content"
    assert list(store.tmp_dir.iterdir()) == []


def test_discard_and_sweep(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    writer = store.writer()
    writer.write(b"partial")
    writer.discard()
    assert list(store.tmp_dir.iterdir()) == []
    stale = store.writer()
    stale.write(b"left by a crash")
    os.utime(stale.path, (0, 0))
    fresh = store.writer()
    fresh.write(b"still arriving")
    assert store.sweep_temporary(older_than_seconds=60) == 1
    assert [p.name for p in store.tmp_dir.iterdir()] == [fresh.path.name]
    fresh.discard()
    stale.discard()


def test_a_writer_makes_its_file_at_its_first_write(tmp_path: Path) -> None:
    """The receiver makes writers on the event loop: no file system work until a lane
    writes (or an empty file is finished)."""
    store = BlobStore(tmp_path)
    unused = store.writer()
    assert list(store.tmp_dir.iterdir()) == []
    unused.discard()
    written = store.writer()
    written.write(b"data")
    assert [p.name for p in store.tmp_dir.iterdir()] == [written.path.name]
    empty = store.writer()
    digests = empty.finish()
    assert digests.size == 0 and digests.sha256 == hashlib.sha256(b"").hexdigest()
    assert empty.path.read_bytes() == b""
    store.stage(empty)
    assert store.place(empty).read_bytes() == b""
    written.discard()
    empty.discard()
    assert list(store.tmp_dir.iterdir()) == []
    with pytest.raises(AssertionError, match="write after finish"):
        empty.write(b"late")


@pytest.mark.parametrize("bad", ["", "abc", "../" + "a" * 61, "A" * 64, "g" * 64])
def test_addresses_must_be_sha256(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        BlobStore(tmp_path).path_for(bad)


@pytest.mark.parametrize(
    ("direct_after", "sizes"),
    [
        # Direct from a block boundary, pieces crossing it and the stage's end, a tail.
        (10_000, [7_000, 5_000, DIRECT_STAGE - 1, 3, DIRECT_STAGE + 17, 1_234]),
        # Exactly whole stages: no tail.
        (DIRECT_ALIGN, [DIRECT_ALIGN, DIRECT_STAGE, DIRECT_STAGE]),
        # Never reaches the threshold: all through the page cache.
        (10 * DIRECT_STAGE, [DIRECT_STAGE, 12_345]),
    ],
)
def test_large_blobs_go_to_the_disk_directly(
    tmp_path: Path, direct_after: int, sizes: list[int]
) -> None:
    """Past the threshold a blob is written with O_DIRECT from the aligned stage; the
    bytes on disk and the digests are those of the content, whatever the pieces."""
    store = BlobStore(tmp_path)
    writer = BlobWriter(store, direct_after=direct_after)
    data = os.urandom(sum(sizes))
    at = 0
    for size in sizes:
        md5, shas, disk = writer.lanes()
        piece = memoryview(data)[at : at + size]
        md5(piece)
        shas(piece)
        disk(bytearray(piece))
        at += size
    digests = writer.finish()
    assert (digests.md5, digests.sha1, digests.sha256, digests.size) == (
        hashlib.md5(data).hexdigest(),
        hashlib.sha1(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
    assert store.place(writer).read_bytes() == data
    if not _direct_io(tmp_path):
        assert writer.direct_bytes == 0
        return
    start = -(-direct_after // DIRECT_ALIGN) * DIRECT_ALIGN
    expected = max(0, (len(data) - start) // DIRECT_ALIGN * DIRECT_ALIGN)
    assert writer.direct_bytes == expected


def test_a_discarded_direct_blob_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    writer = BlobWriter(store, direct_after=DIRECT_ALIGN)
    writer.write(os.urandom(3 * DIRECT_ALIGN + 5))
    writer.discard()
    assert list(store.tmp_dir.iterdir()) == []


@pytest.mark.parametrize("first", [b"", b"some data"])
def test_a_finished_or_discarded_writer_takes_nothing_more(tmp_path: Path, first: bytes) -> None:
    """With the file made lazily, `finish` and `discard` must still close the writer for
    good: a late write (a disk lane's piece still queued after a failed form) must fail,
    not quietly make a second temporary file."""
    store = BlobStore(tmp_path)
    finished = store.writer()
    finished.write(first)
    finished.finish()
    with pytest.raises(AssertionError, match="write after finish"):
        finished.write(b"late")
    with pytest.raises(AssertionError):
        finished.finish()
    assert [p.name for p in store.tmp_dir.iterdir()] == [finished.path.name]
    assert finished.path.read_bytes() == first
    finished.discard()
    discarded = store.writer()
    discarded.write(first)
    discarded.discard()  # never finished
    with pytest.raises(AssertionError, match="write after finish"):
        discarded.write(b"late")
    with pytest.raises(AssertionError):
        discarded.finish()
    assert list(store.tmp_dir.iterdir()) == []
