"""Hostile file names on upload, and path traversal against the static files.

A client's file name is only ever shown, never used as a path: blobs are stored by hash.
tests/files/test_endpoints.py pins a few cleaned names; here the names are meant to
break out (separators, NUL, control and bidi characters, reserved and dot-only names,
percent-encoding), on both upload endpoints, and the data dir is checked afterwards.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer
from tests.media.helpers import photo_jpeg
from tests.security.conftest import CANARY
from tests.security.helpers import new_account
from veriscan.web import STATIC_DIR

WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(10)
}
# Raw bytes of the quoted filename in the part header, and the name the service keeps.
HOSTILE_NAMES: list[Any] = [
    (b"../../etc/passwd", "passwd"),
    (b"/etc/passwd", "passwd"),
    (b"..\\..\\..\\windows\\win.ini", "win.ini"),
    (b"C:\\Windows\\System32\\drivers\\etc\\hosts", "hosts"),
    (b"blobs/../../secret.key", "secret.key"),
    (b"a\x00b.txt", "ab.txt"),
    (b"%00.txt", "%00.txt"),
    (b"\x1b[31mred\x07\x08.txt", "[31mred.txt"),
    (b"\x01\x02", "unnamed"),
    ("invoice\u202egnp.exe".encode(), "invoicegnp.exe"),
    ("\u200f\u202a\u2066bidi\u2069.txt".encode(), "bidi.txt"),
    (b"a" * 1000 + b".txt", "a" * 255),
    (("\u00e9" * 300).encode(), "\u00e9" * 127),
    (b".", "unnamed"),
    (b"..", "unnamed"),
    (b".....", "unnamed"),
    (b". .", "unnamed"),
    (b". . .", "unnamed"),
    (b"CON", "CON_"),
    (b"nul.txt", "nul_.txt"),
    (b"COM1.log", "COM1_.log"),
    (b"LPT9", "LPT9_"),
    (b"aux.tar.gz", "aux_.tar.gz"),
    (b"PRN.", "PRN_"),
    (b"%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
    (b"..%2F..%2Fsecret.key", "%2F..%2Fsecret.key"),
    (b"name%0D%0AX-Injected: 1.txt", "nameX-Injected 1.txt"),
    (b"%22quoted%22.txt", "quoted.txt"),
    (b"<script>alert(1)</script>.html", "script.html"),
    (b"\xff\xfe.bin", "\ufffd\ufffd.bin"),
]


def _multipart(filename: bytes, content: bytes) -> tuple[dict[str, str], bytes]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
        + filename
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return {"content-type": f"multipart/form-data; boundary={boundary}"}, body


def _assert_harmless(name: str) -> None:
    assert "/" not in name and "\\" not in name, name
    assert not any(unicodedata.category(ch).startswith("C") for ch in name), ascii(name)
    assert name.strip(". ") and not name.startswith("."), name
    assert len(name.encode()) <= 255
    assert name.split(".")[0].upper().rstrip() not in WINDOWS_RESERVED, name


@pytest.fixture(scope="module")
def uploader(strict_server: LiveServer) -> Iterator[tuple[httpx.Client, Account]]:
    with httpx.Client(base_url=strict_server.url, timeout=30) as client:
        yield client, new_account(strict_server)


def _snapshot(root: Path) -> set[Path]:
    """Every path under root, except the blob store's and SQLite's own companions."""
    return {
        p
        for p in root.rglob("*")
        if "blobs" not in p.relative_to(root).parts
        and not p.name.endswith(("-wal", "-shm", "-journal"))
    }


@pytest.fixture(scope="module")
def outside(strict_server: LiveServer) -> Iterator[dict[Path, set[Path]]]:
    """What was on disk around the data dir before the uploads; checked after them."""
    data_dir = strict_server.settings.data_dir
    before = {data_dir: _snapshot(data_dir), data_dir.parent: set(data_dir.parent.iterdir())}
    yield before
    assert _snapshot(data_dir) == before[data_dir]
    assert set(data_dir.parent.iterdir()) == before[data_dir.parent]
    # Nor relative to the server's working directory.
    for name in ("passwd", "win.ini", "hosts", "secret.key", "escaped.txt", "etc", "windows"):
        assert not (Path.cwd() / name).exists(), name


@pytest.mark.parametrize(("raw", "kept"), HOSTILE_NAMES, ids=lambda v: ascii(v)[:40])
def test_hostile_names_are_cleaned_and_never_used_as_paths(
    uploader: tuple[httpx.Client, Account],
    strict_server: LiveServer,
    outside: dict[Path, set[Path]],
    raw: bytes,
    kept: str,
) -> None:
    client, account = uploader
    content = f"hostile name sample {uuid.uuid4()}".encode()
    headers, body = _multipart(raw, content)
    response = client.post(
        "/api/files/upload", headers={**account.headers, **headers}, content=body
    )
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == kept
    _assert_harmless(kept)
    listed = client.get(f"/api/files/{response.json()['id']}", headers=account.headers)
    assert listed.json()["filename"] == kept
    sha256 = hashlib.sha256(content).hexdigest()
    blob = strict_server.context.blobs.path_for(sha256)
    assert blob.read_bytes() == content
    assert blob.relative_to(strict_server.settings.data_dir / "blobs").parts == (
        sha256[:2],
        sha256[2:4],
        sha256,
    )

    # The media upload keeps names the same way (no workers: the scan stays pending).
    headers, body = _multipart(raw, photo_jpeg(seed=3))
    media = client.post("/api/scans/upload", headers={**account.headers, **headers}, content=body)
    assert media.status_code == 202, media.text
    assert media.json()["data"]["fileName"] == kept


def test_names_that_are_empty_or_unparseable_are_a_clear_400(
    uploader: tuple[httpx.Client, Account], strict_server: LiveServer
) -> None:
    client, account = uploader
    for path in ("/api/files/upload", "/api/scans/upload"):
        for raw, message in (
            (b"", "No selected file"),
            (b"   ", "No selected file"),
            (b"a" * 5000, "malformed multipart body: Maximum header size exceeded"),
        ):
            headers, body = _multipart(raw, photo_jpeg())
            response = client.post(path, headers={**account.headers, **headers}, content=body)
            assert assert_envelope(response, 400, "VALIDATION_ERROR")["message"] == message
    assert list(strict_server.context.blobs.tmp_dir.iterdir()) == []


def test_only_blobs_named_by_their_hash_are_in_the_store(
    strict_server: LiveServer, uploader: tuple[httpx.Client, Account]
) -> None:
    client, account = uploader
    headers, body = _multipart(b"../" * 20 + b"tmp/escaped.txt", b"where am I")
    assert client.post("/api/files/upload", headers={**account.headers, **headers}, content=body)
    blobs = strict_server.settings.data_dir / "blobs"
    stored = [p.relative_to(blobs).as_posix() for p in blobs.rglob("*") if p.is_file()]
    assert stored
    for path in stored:
        assert re.fullmatch(r"([0-9a-f]{2})/([0-9a-f]{2})/\1\2[0-9a-f]{60}", path), path
    assert (strict_server.settings.data_dir / "secret.key").read_bytes() == CANARY
    assert not Path("/tmp/escaped.txt").exists()


# ------------------------------------------------------------------ static traversal

TRAVERSALS = {
    "plain": "../",
    "encoded dots": "%2e%2e/",
    "all encoded": "%2e%2e%2f",
    "encoded slash": "..%2f",
    "upper case": "%2E%2E%2F",
    "double encoded": "%252e%252e%252f",
    "backslash": "..\\",
    "encoded backslash": "..%5c",
    "dot dot dot dot": "....//",
    "half encoded": ".%2e/",
    "overlong UTF-8": "%c0%ae%c0%ae/",
    "semicolon": "..;/",
}


def _targets(server: LiveServer) -> dict[str, tuple[Path, bytes]]:
    """Files outside the static dir, each with bytes that only it would show."""
    data_dir = server.settings.data_dir
    return {
        "passwd": (Path("/etc/passwd"), b"root:"),
        "secret.key": (data_dir / "secret.key", CANARY),
        "database": (data_dir / "veriscan.db", b"SQLite format 3"),
        "package source": (STATIC_DIR.parent / "__init__.py", b"def mount("),
    }


def _get(server: LiveServer, path: str) -> tuple[int, bytes]:
    """A GET with the path exactly as written: no client normalises it."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=False, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_static_files_never_reach_outside_their_folder(strict_server: LiveServer) -> None:
    depth = len(STATIC_DIR.parts) + 2
    index = (STATIC_DIR / "index.html").read_bytes()
    tried = 0
    for target, (path, secret) in _targets(strict_server).items():
        assert secret in path.read_bytes(), target  # the probe would see it if served
        absolute = path.as_posix().lstrip("/")
        for name, step in TRAVERSALS.items():
            for prefix, expected in (
                ("/static/", 404),
                ("/static/js/", 404),
                ("/static/vendor/", 404),
                ("/", 404),
                ("/scans/", 200),  # a page of the dashboard's router: index.html
            ):
                url = prefix + step * depth + absolute
                status, body = _get(strict_server, url)
                tried += 1
                assert status == expected, (target, name, url, body[:200])
                assert secret not in body, (target, name, url)
                if expected == 200:
                    assert body == index
        for url in (
            "/static//" + absolute,
            "/static/%2f" + absolute.replace("/", "%2f"),
            "/static/" + absolute,
            "/static/..%00/" + absolute,
        ):
            status, body = _get(strict_server, url)
            assert status == 404 and secret not in body, (url, body[:200])
    assert tried == len(_targets(strict_server)) * len(TRAVERSALS) * 5


def test_the_static_files_themselves_are_served(strict_server: LiveServer) -> None:
    """The control for the test above: the same client fetches what is meant to be served."""
    for path in ("/static/app.css", "/static/js/app.js", "/static/js/../app.css"):
        status, body = _get(strict_server, path)
        assert status == 200, path
        assert body
