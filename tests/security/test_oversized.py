"""Oversized input: request heads (core/httpserver.py), JSON bodies (core/guard.py),
uploads and multipart forms (uploads.py). Each is refused with a clear 4xx in the
envelope, early (before the rest of the input is read), and leaves nothing on disk."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from uvicorn.server import ServerState

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer
from tests.media.helpers import photo_jpeg
from tests.security.helpers import (
    API_SECURITY_HEADERS,
    RawResponse,
    is_closed,
    new_account,
    raw_exchange,
    read_response,
)
from veriscan.core.httpserver import MAX_HEAD_BYTES, BoundedHttpToolsProtocol
from veriscan.uploads import MAX_PARTS

MAX_BODY = 1024 * 1024  # VERISCAN_MAX_BODY_KB's default
HOST = b"Host: 127.0.0.1\r\n"


@pytest.fixture(scope="module")
def user(server: LiveServer) -> Account:
    return new_account(server)


def _json(response: RawResponse) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.body)
    return body


def _assert_raw_envelope(response: RawResponse, status: int, code: str) -> None:
    assert response.status == status, response.body[:300]
    assert response.headers["content-type"] == "application/json"
    error = _json(response)["error"]
    assert _json(response)["success"] is False
    assert (error["statusCode"], error["code"]) == (status, code)
    assert set(error) == {"message", "code", "statusCode", "timestamp"}


def _send_all_or_refused(sock: socket.socket, data: bytes, piece: int = 1 << 16) -> None:
    """Send, stopping quietly if the server has answered and closed meanwhile."""
    try:
        for start in range(0, len(data), piece):
            sock.sendall(data[start : start + piece])
    except (BrokenPipeError, ConnectionResetError):
        pass


# ------------------------------------------------------------------ request heads

BIG_HEADS = {
    "one long header": b"GET /api/auth/profile HTTP/1.1\r\n"
    + HOST
    + b"X-Big: "
    + b"a" * (MAX_HEAD_BYTES + 10)
    + b"\r\n\r\n",
    "many headers": b"GET /api/auth/profile HTTP/1.1\r\n"
    + HOST
    + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 60) for i in range(1200))
    + b"\r\n",
    "a long URL": b"GET /api/scans/history?search="
    + b"q" * (MAX_HEAD_BYTES + 10)
    + b" HTTP/1.1\r\n"
    + HOST
    + b"\r\n",
    "a long header on a POST with a body": b"POST /api/auth/login HTTP/1.1\r\n"
    + HOST
    + b"Content-Type: application/json\r\nContent-Length: 2\r\nX-Big: "
    + b"b" * (MAX_HEAD_BYTES + 10)
    + b"\r\n\r\n{}",
}


@pytest.mark.parametrize("piece", [1 << 20, 4096], ids=["one-write", "4kb-pieces"])
@pytest.mark.parametrize("name", sorted(BIG_HEADS))
def test_a_head_over_64kb_is_431_in_the_envelope_and_the_connection_closes(
    server: LiveServer, name: str, piece: int
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        _send_all_or_refused(sock, BIG_HEADS[name], piece)
        response = read_response(sock)
        _assert_raw_envelope(response, 431, "HEADERS_TOO_LARGE")
        for header, value in API_SECURITY_HEADERS.items():
            assert response.headers[header] == value
        assert response.headers["connection"] == "close"
        assert is_closed(sock)


def test_a_head_that_never_ends_is_refused_once_past_the_bound(server: LiveServer) -> None:
    """Only the first 64 KB (and a little) of an endless header line are ever read."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n" + HOST + b"X-Endless: ")
        _send_all_or_refused(sock, b"z" * (2 * MAX_HEAD_BYTES), piece=1024)
        _assert_raw_envelope(read_response(sock), 431, "HEADERS_TOO_LARGE")
        assert is_closed(sock)


def test_heads_under_the_bound_are_served_also_back_to_back(
    server: LiveServer, user: Account
) -> None:
    """Three 40 KB heads on one kept-alive connection, then 30 pipelined 3 KB requests in
    one write: each head is measured on its own, and bodies never count as head."""
    auth = f"Authorization: Bearer {user.access_token}\r\n".encode()
    padded = b"GET /api/auth/profile HTTP/1.1\r\n" + HOST + auth + b"X-Pad: " + b"p" * 40_000
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(3):
            sock.sendall(padded + b"\r\n\r\n")
            response = read_response(sock)
            assert response.status == 200, response.body
        small = b"GET /api/auth/profile HTTP/1.1\r\n" + HOST + auth + b"X-Pad: " + b"s" * 3000
        sock.sendall((small + b"\r\n\r\n") * 30)
        for _ in range(30):
            assert read_response(sock).status == 200
        # A JSON body of 100 KB in the same write as its head: not a 431.
        body = json.dumps({"username": "u" * 100_000, "password": "x"}).encode()
        sock.sendall(
            b"POST /api/auth/login HTTP/1.1\r\n"
            + HOST
            + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            + body
        )
        _assert_raw_envelope(read_response(sock), 400, "VALIDATION_ERROR")
        assert not is_closed(sock, timeout=0.2)


class _Transport(asyncio.Transport):
    """Just enough of a transport to drive the protocol by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 3001), "peername": ("127.0.0.1", 40000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _feed(*chunks: bytes) -> tuple[bytes, bool, list[int]]:
    """Feed the protocol these reads; what it wrote, whether it closed, bodies the app got."""
    bodies: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        bodies.append(size)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    config = uvicorn.Config(app, lifespan="off", log_config=None, http=BoundedHttpToolsProtocol)
    config.load()
    protocol = BoundedHttpToolsProtocol(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    transport = _Transport()
    protocol.connection_made(transport)
    for chunk in chunks:
        protocol.data_received(chunk)
    for _ in range(200):
        if not protocol.tasks and not protocol.pipeline:
            break
        await asyncio.sleep(0.005)
    return bytes(transport.written), transport.closed, bodies


def test_a_whole_request_in_one_read_is_not_taken_for_a_long_head() -> None:
    """The regression: a small head with a 65-256 KB body, read at once (as the kernel
    often hands it over), was answered 431 after the app had already run it."""
    body = b"x" * 150_000
    request = b"POST /x HTTP/1.1\r\n" + HOST + b"Content-Length: %d\r\n\r\n" % len(body) + body
    written, closed, bodies = asyncio.run(_feed(request))
    assert written.startswith(b"HTTP/1.1 200 "), written[:200]
    assert b"431" not in written
    assert (closed, bodies) == (False, [len(body)])


def test_a_complete_long_head_in_one_read_never_reaches_the_app() -> None:
    request = b"GET /x HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n"
    written, closed, bodies = asyncio.run(_feed(request))
    assert written.startswith(b"HTTP/1.1 431 "), written[:200]
    assert (closed, bodies) == (True, [])
    # Just under the bound it is served.
    request = (
        b"GET /x HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * (MAX_HEAD_BYTES - 100) + b"\r\n\r\n"
    )
    written, closed, bodies = asyncio.run(_feed(request))
    assert written.startswith(b"HTTP/1.1 200 "), written[:200]


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /api/auth/profile HTTP/9.9\r\n\r\n",
        b"GET /static/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
    ],
    ids=["garbage", "version", "raw-bytes-in-path", "bad-length", "bad-chunk", "bad-header"],
)
def test_an_unparseable_request_is_a_400_in_the_envelope(
    server: LiveServer, request_bytes: bytes
) -> None:
    response, closed = raw_exchange(server, request_bytes)
    _assert_raw_envelope(response, 400, "BAD_REQUEST")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert closed


# ------------------------------------------------------------------ JSON bodies


@pytest.mark.parametrize(
    "path", ["/api/auth/login", "/api/auth/register", "/api/keys/", "/api/keys/validate"]
)
def test_a_json_body_over_the_limit_is_413_before_it_is_read(
    server: LiveServer, user: Account, path: str
) -> None:
    """Declared by Content-Length: refused at once, though no byte of the body was sent."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {user.access_token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        response = read_response(sock)
        _assert_raw_envelope(response, 413, "PAYLOAD_TOO_LARGE")
        assert response.headers["connection"] == "close"
        assert is_closed(sock)


def _chunked(data: bytes, piece: int = 64 * 1024) -> bytes:
    out = b"".join(
        b"%x\r\n%s\r\n" % (len(data[i : i + piece]), data[i : i + piece])
        for i in range(0, len(data), piece)
    )
    return out + b"0\r\n\r\n"


@pytest.mark.parametrize("method", ["POST", "PUT", "GET"])
def test_a_chunked_json_body_over_the_limit_is_413(
    server: LiveServer, user: Account, method: str
) -> None:
    path = {"POST": "/api/keys/", "PUT": "/api/auth/profile", "GET": "/api/files/"}[method]
    payload = json.dumps({"name": "n" * (MAX_BODY + 10)}).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {user.access_token}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        _send_all_or_refused(sock, head + _chunked(payload))
        response = read_response(sock)
        _assert_raw_envelope(response, 413, "PAYLOAD_TOO_LARGE")
        assert is_closed(sock)


def test_a_json_body_just_under_the_limit_is_read(api: httpx.Client, user: Account) -> None:
    """The control: the same body under the limit gets the route's own answer."""
    body = json.dumps({"name": "n" * (MAX_BODY - 100), "key_value": "k"}).encode()
    for extra in ({"content-length": str(len(body))}, {}):
        content: Any = body if extra else iter([body[: len(body) // 2], body[len(body) // 2 :]])
        response = api.post(
            "/api/keys/",
            headers={**user.headers, "content-type": "application/json", **extra},
            content=content,
        )
        assert_envelope(response, 400, "VALIDATION_ERROR")


# ------------------------------------------------------------------ uploads


@pytest.fixture(scope="module")
def strict(strict_server: LiveServer) -> Iterator[tuple[httpx.Client, Account]]:
    with httpx.Client(base_url=strict_server.url, timeout=30) as client:
        yield client, new_account(strict_server)


def _nothing_left(server: LiveServer, before: set[str]) -> None:
    assert list(server.context.blobs.tmp_dir.iterdir()) == []
    blobs = server.settings.data_dir / "blobs"
    assert {p.name for p in blobs.rglob("*") if p.is_file()} == before


def _blob_names(server: LiveServer) -> set[str]:
    return {p.name for p in (server.settings.data_dir / "blobs").rglob("*") if p.is_file()}


UPLOADS = {
    "/api/files/upload": (400, "FILE_TOO_LARGE"),
    "/api/scans/upload": (413, "PAYLOAD_TOO_LARGE"),
}


def _form(boundary: str, *parts: tuple[str, str | None, bytes], close: bool = True) -> bytes:
    out = b""
    for name, filename, content in parts:
        extra = f'; filename="{filename}"' if filename is not None else ""
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    return out + (f"--{boundary}--\r\n".encode() if close else b"")


@pytest.mark.parametrize("path", sorted(UPLOADS))
def test_an_upload_over_the_limit_without_a_length_is_refused_and_leaves_nothing(
    strict: tuple[httpx.Client, Account], strict_server: LiveServer, path: str
) -> None:
    client, account = strict
    before = _blob_names(strict_server)
    status, code = UPLOADS[path]
    limit = strict_server.settings.max_upload_bytes
    content = photo_jpeg() + uuid.uuid4().bytes * (limit // 16)
    body = _form("BOUNDARY", ("file", "big.jpg", content))

    def stream() -> Iterator[bytes]:  # chunked: no Content-Length to refuse up front
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    headers = {**account.headers, "content-type": "multipart/form-data; boundary=BOUNDARY"}
    response = client.post(path, headers=headers, content=stream())
    assert "1 MB" in assert_envelope(response, status, code)["message"]
    _nothing_left(strict_server, before)


@pytest.mark.parametrize("path", sorted(UPLOADS))
def test_endless_bytes_after_the_closing_boundary_are_refused(
    strict: tuple[httpx.Client, Account], strict_server: LiveServer, path: str
) -> None:
    """The parser ignores what follows the form's end; the body as a whole is bounded
    all the same. It used to be read to its end, however long it went on, with the
    temporary blob kept meanwhile: here the body never ends, and the answer comes."""
    _, account = strict
    before = _blob_names(strict_server)
    status, code = UPLOADS[path]
    form = _form("BOUNDARY", ("file", "small.jpg", photo_jpeg(seed=5)))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {account.access_token}\r\n"
        "Content-Type: multipart/form-data; boundary=BOUNDARY\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    epilogue = _chunked(b"e" * (3 * 1024 * 1024))[: -len(b"0\r\n\r\n")]  # no last chunk
    with socket.create_connection(("127.0.0.1", strict_server.port), timeout=10) as sock:
        _send_all_or_refused(sock, head + b"%x\r\n%s\r\n" % (len(form), form) + epilogue)
        response = read_response(sock)
        _assert_raw_envelope(response, status, code)
        # And the server stops reading: it closes rather than drain the rest to keep the
        # connection alive (the body never ends, so a drain would never finish).
        assert response.headers["connection"] == "close"
        assert is_closed(sock)
    _nothing_left(strict_server, before)


def _send_form_and_read(
    server: LiveServer, user: Account, path: str, content_type: str, body: bytes, total: int
) -> RawResponse:
    """Declare a body of `total` bytes, send only `body` of it: the answer must come
    anyway, proving that the service stopped reading at its bound."""
    typed = f"Content-Type: {content_type}\r\n" if content_type else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {user.access_token}\r\n"
        f"{typed}Content-Length: {total}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        _send_all_or_refused(sock, head + body)
        response = read_response(sock)
        # The rest of the declared body never comes: a server waiting to drain it would
        # keep the connection open; this one closes it after the answer.
        assert response.headers.get("connection") == "close", response.headers
        assert is_closed(sock)
        return response


MALFORMED_FORMS: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "a 200 KB part header": (
        "multipart/form-data; boundary=B",
        lambda: (
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            b"X-Pad: " + b"p" * 200_000 + b"\r\n\r\n"
        ),
        "malformed multipart body: ",
    ),
    "hundreds of part headers": (
        "multipart/form-data; boundary=B",
        lambda: (
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            + b"a: b\r\n" * 50_000
        ),
        "malformed multipart body: ",
    ),
    "a 2 MB tags field": (
        "multipart/form-data; boundary=B",
        lambda: b'--B\r\nContent-Disposition: form-data; name="tags"\r\n\r\n' + b"t," * 1_000_000,
        "form fields are too long",
    ),
    "thousands of parts": (
        "multipart/form-data; boundary=B",
        lambda: b"".join(
            b'--B\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i
            for i in range(5000)
        ),
        f"too many parts in the form (at most {MAX_PARTS})",
    ),
    "no boundary": (
        "multipart/form-data",
        lambda: _form("B", ("file", "a.jpg", b"x")),
        "multipart/form-data without a valid boundary",
    ),
    "an empty boundary": (
        "multipart/form-data; boundary=",
        lambda: _form("B", ("file", "a.jpg", b"x")),
        "multipart/form-data without a valid boundary",
    ),
    "a 300-byte boundary": (
        "multipart/form-data; boundary=" + "b" * 300,
        lambda: _form("b" * 300, ("file", "a.jpg", b"x")),
        "multipart/form-data without a valid boundary",
    ),
    "another boundary than declared": (
        "multipart/form-data; boundary=ZZ",
        lambda: _form("B", ("file", "a.jpg", b"x")),
        "malformed multipart body: ",
    ),
    "a preamble of garbage": (
        "multipart/form-data; boundary=B",
        lambda: b"\x00\xff" * 500_000 + _form("B", ("file", "a.jpg", b"x")),
        "malformed multipart body: ",
    ),
    "no Content-Type": (
        "",
        lambda: _form("B", ("file", "a.jpg", b"x")),
        "Content-Type must be multipart/form-data",
    ),
    "JSON instead of a form": (
        "application/json",
        lambda: json.dumps({"file": "x" * 100}).encode(),
        "Content-Type must be multipart/form-data",
    ),
}


@pytest.mark.parametrize("path", ["/api/files/upload", "/api/scans/upload"])
@pytest.mark.parametrize("case", sorted(MALFORMED_FORMS))
def test_malformed_and_oversized_forms_are_a_clear_400(
    server: LiveServer, user: Account, path: str, case: str
) -> None:
    content_type, make_body, message = MALFORMED_FORMS[case]
    body = make_body()
    total = len(body) + 10 * 1024 * 1024  # declared, never sent: the answer comes anyway
    response = _send_form_and_read(server, user, path, content_type, body, total)
    _assert_raw_envelope(response, 400, "VALIDATION_ERROR")
    # The parser's own words follow "malformed multipart body: "; ours are exact.
    assert _json(response)["error"]["message"].startswith(message)
    assert message.endswith(": ") or _json(response)["error"]["message"] == message
    assert list(server.context.blobs.tmp_dir.iterdir()) == []
