"""uvicorn's httptools protocol with a bound on the request head.

httptools keeps no limit of its own: a client can send hundreds of megabytes of one
header line and the server holds it all in memory. Here the head (request line and
headers) may take MAX_HEAD_BYTES; past that the client gets a 431 in the error envelope
and the connection is closed. Bodies are untouched: routes bound them (core/guard.py and
the upload limit). Requests too malformed to parse get their 400 in the envelope too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from veriscan.core.errors import envelope
from veriscan.core.guard import API_HEADERS

MAX_HEAD_BYTES = 64 * 1024


def _refusal(status: HTTPStatus, code: str, message: str) -> bytes:
    """A whole response, written before any route runs: envelope, API headers, close."""
    body = json.dumps(envelope(status.value, code, message), separators=(",", ":")).encode()
    lines = [
        f"HTTP/1.1 {status.value} {status.phrase}".encode(),
        b"content-type: application/json",
        f"content-length: {len(body)}".encode(),
        b"connection: close",
        *(name + b": " + value for name, value in API_HEADERS),
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head over the bound."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0  # bytes read while the head is still incomplete
        self._head_size = 0  # the parsed head: request target and header lines
        self._message_ended = False
        self._head_refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; one bound
        # by hand (socket.socket(), a passed-in listener) has proto 0, and then the body
        # of every response waits ~40 ms behind the head for the client's delayed ACK.
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):  # the client is gone already
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        counting = self._in_head
        self._message_ended = False
        super().data_received(data)
        # A chunk in which a request ended also holds that request's body, so it is not
        # counted: a complete head is measured exactly below, and an incomplete one may
        # overshoot the bound by one read (at most 256 KB), never more.
        if not counting or self._message_ended or self.transport.is_closing():
            return
        # Counted after the parser ran, so a chunk that also finishes the head (and carries
        # the start of a body) is not held against it.
        self._head_bytes += len(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self._refuse_head()

    def _refuse_head(self) -> None:
        self.logger.warning("Request head over %d bytes refused", MAX_HEAD_BYTES)
        self.transport.write(
            _refusal(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                "HEADERS_TOO_LARGE",
                f"The request headers are larger than {MAX_HEAD_BYTES} bytes",
            )
        )
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        if self._head_refused:
            self._refuse_head()
            return
        self.transport.write(_refusal(HTTPStatus.BAD_REQUEST, "BAD_REQUEST", msg))
        self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_size > MAX_HEAD_BYTES:
            # Before the request reaches the app: the parser stops and uvicorn calls
            # send_400_response, which answers 431 instead.
            self._head_refused = True
            raise _HeadTooLarge
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # the next request on a kept-alive connection
        self._head_bytes = 0
        self._message_ended = True
