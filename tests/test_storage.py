from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from veriscan.storage import BlobStore


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
    assert store.sweep_temporary(older_than_seconds=60) == 1
    assert [p.name for p in store.tmp_dir.iterdir()] == [fresh.path.name]
    fresh.discard()
    stale.discard()


@pytest.mark.parametrize("bad", ["", "abc", "../" + "a" * 61, "A" * 64, "g" * 64])
def test_addresses_must_be_sha256(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        BlobStore(tmp_path).path_for(bad)
