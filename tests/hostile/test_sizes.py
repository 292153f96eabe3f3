"""Files just over the upload limit, sent as a file of holes or as a stream of unknown
length: refused by both upload endpoints before anything is stored, in bounded memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Account, assert_envelope, blob_files
from tests.fixtures import hostile
from tests.hostile.helpers import operative, peak_rss
from tests.live import LiveServer, live_server

LIMIT_MB = 1
LIMIT = LIMIT_MB * 1024 * 1024
TOO_LARGE = f"File too large: the limit is {LIMIT_MB} MB"
# Each endpoint's answer to a file over the limit: the deepfake document's 413, the
# VirusTotal document's 400.
REFUSALS = {
    "/api/scans/upload": (413, "PAYLOAD_TOO_LARGE"),
    "/api/files/upload": (400, "FILE_TOO_LARGE"),
}
# Safety bound: a refused upload is streamed through a few MB of buffers, never held whole.
RSS_BOUND_MB = 50
BOUNDARY = "hostile-boundary"


@pytest.fixture(scope="module")
def small_server(settings_factory: Callable[..., Any]) -> Iterator[LiveServer]:
    with live_server(settings_factory(max_upload_mb=LIMIT_MB)) as live:
        yield live


@pytest.fixture(scope="module")
def uploader(small_server: LiveServer) -> Account:
    return operative(small_server)


@pytest.fixture
def client(small_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=small_server.url, timeout=30) as http:
        yield http


def assert_nothing_kept(server: LiveServer, blobs_before: list[Path]) -> None:
    assert list(server.context.blobs.tmp_dir.iterdir()) == []
    assert blob_files(server.settings.data_dir) == blobs_before


@pytest.mark.parametrize("endpoint", list(REFUSALS))
def test_one_byte_over_the_limit_from_a_sparse_file(
    client: httpx.Client,
    uploader: Account,
    small_server: LiveServer,
    endpoint: str,
    tmp_path: Path,
) -> None:
    # Content-Length is within the form's allowance for framing, so the server must count
    # the file's own bytes as they stream in.
    big = hostile.sparse_file(tmp_path / "holes.jpg", LIMIT + 1)
    status, code = REFUSALS[endpoint]
    blobs = blob_files(small_server.settings.data_dir)
    with big.open("rb") as handle, peak_rss() as memory:
        response = client.post(endpoint, headers=uploader.headers, files={"file": handle})
    error = assert_envelope(response, status, code)
    assert error["message"] == TOO_LARGE
    assert memory.growth_mb < RSS_BOUND_MB, f"peak growth {memory.growth_mb:.0f} MB"
    assert_nothing_kept(small_server, blobs)


@pytest.mark.parametrize("endpoint", list(REFUSALS))
def test_a_stream_of_unknown_length_is_cut_at_the_limit(
    client: httpx.Client, uploader: Account, small_server: LiveServer, endpoint: str
) -> None:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="endless.mp4"'
        "\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:  # 64 MB of zeros, chunked: no length to refuse early
        yield head
        yield from hostile.streamed_body(64 * LIMIT)
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    headers = {**uploader.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    status, code = REFUSALS[endpoint]
    blobs = blob_files(small_server.settings.data_dir)
    with peak_rss() as memory:
        response = client.post(endpoint, headers=headers, content=body())
    error = assert_envelope(response, status, code)
    assert error["message"] == TOO_LARGE
    assert memory.growth_mb < RSS_BOUND_MB, f"peak growth {memory.growth_mb:.0f} MB"
    assert_nothing_kept(small_server, blobs)


def test_exactly_the_limit_is_accepted(
    client: httpx.Client, uploader: Account, small_server: LiveServer, tmp_path: Path
) -> None:
    largest = hostile.sparse_file(tmp_path / "holes.bin", LIMIT)
    with largest.open("rb") as handle:
        response = client.post(
            "/api/files/upload", headers=uploader.headers, files={"file": handle}
        )
    assert response.status_code == 201, response.text
    assert (response.json()["file_size"], response.json()["mime_type"]) == (
        LIMIT,
        "application/octet-stream",
    )
    # The same bytes are no picture: the media endpoint says so rather than analysing zeros.
    with largest.open("rb") as handle:
        refused = client.post("/api/scans/upload", headers=uploader.headers, files={"file": handle})
    error = assert_envelope(refused, 400, "UNSUPPORTED_MEDIA")
    assert error["message"] == (
        "Not an image, video or audio file (the content is application/octet-stream)"
    )
