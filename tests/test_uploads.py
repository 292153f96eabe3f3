"""The streaming multipart receiver on its own, fed bodies in awkward pieces."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from veriscan.storage import BlobStore
from veriscan.uploads import MalformedUpload, ReceivedForm, UploadTooLarge, receive_form

BOUNDARY = "----veriscanboundary"


def body(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        out += (
            f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    return out + f"--{BOUNDARY}--\r\n".encode()


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def receive(store: BlobStore, data: bytes, size: int, **options: object) -> ReceivedForm:
    return asyncio.run(
        receive_form(
            pieces(data, size),
            f"multipart/form-data; boundary={BOUNDARY}",
            open_writer=store.writer,
            **{"max_file_bytes": 10_000_000, **options},  # type: ignore[arg-type]
        )
    )


@pytest.mark.parametrize("piece", [1, 7, 4096, 1 << 20])
def test_file_and_fields_in_any_piece_size(tmp_path: Path, piece: int) -> None:
    store = BlobStore(tmp_path)
    content = os.urandom(3 * 1024 * 1024 + 17) if piece > 7 else os.urandom(5000)
    form = receive(
        store,
        body(("tags", None, b"a,b"), ("file", "x.bin", content), ("note", None, b"hi")),
        piece,
    )
    assert form.fields == {"tags": "a,b", "note": "hi"}
    (received,) = form.files
    assert received.filename == "x.bin"
    assert received.digests is not None
    assert received.digests.sha256 == hashlib.sha256(content).hexdigest()
    assert bytes(received.head) == content[:65536]
    assert received.writer is not None and received.writer.path.read_bytes() == content
    form.discard()
    assert list(store.tmp_dir.iterdir()) == []


def test_several_files_when_allowed(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    first, second = os.urandom(2_500_000), b"second"
    form = receive(store, body(("file", "a", first), ("file", "b", second)), 65536, max_files=2)
    assert [f.filename for f in form.files] == ["a", "b"]
    assert [f.digests.sha256 for f in form.files if f.digests] == [
        hashlib.sha256(first).hexdigest(),
        hashlib.sha256(second).hexdigest(),
    ]
    form.discard()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (body(("file", "a", b"x"), ("file", "b", b"y")), MalformedUpload),
        (body(("upload", "a", b"x")), MalformedUpload),
        (body(("file", "a", b"x" * 2000)), UploadTooLarge),
        (body(("file", "a", b"x"))[:-10], MalformedUpload),
        (body(*[("f", None, b"x")] * 40), MalformedUpload),
        (body(("f", None, b"x" * 70_000)), MalformedUpload),
        (
            b"--" + BOUNDARY.encode() + b"\r\nX-Long: " + b"h" * 20_000 + b"\r\n\r\n",
            MalformedUpload,
        ),
        (b"not multipart at all", MalformedUpload),
    ],
)
def test_refusals_leave_no_temporary_file(
    tmp_path: Path, data: bytes, error: type[Exception]
) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(error):
        receive(store, data, 333, max_file_bytes=1000)
    assert list(store.tmp_dir.iterdir()) == []


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "multipart/form-data", "multipart/mixed; boundary=x"]
)
def test_content_type_must_be_form_data(tmp_path: Path, content_type: str | None) -> None:
    with pytest.raises(MalformedUpload):
        asyncio.run(
            receive_form(
                pieces(b"", 1),
                content_type,
                open_writer=BlobStore(tmp_path).writer,
                max_file_bytes=1,
            )
        )
