"""uvicorn's httptools protocol with a bound on the request head.

httptools keeps no limit of its own: a client can send hundreds of megabytes of one
header line and the server holds it all in memory. Here the head (request line and
headers) may take MAX_HEAD_BYTES; past that the client gets a 431 in the error envelope
and the connection is closed. Bodies are untouched: routes bound them (core/guard.py and
the upload limit).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024


def _refusal() -> bytes:
    body = json.dumps(
        {
            "success": False,
            "error": {
                "message": f"The request headers are larger than {MAX_HEAD_BYTES} bytes",
                "code": "HEADERS_TOO_LARGE",
                "statusCode": 431,
                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            },
        },
        separators=(",", ":"),
    ).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    ).encode()
    return head + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        counting = self._in_head
        super().data_received(data)
        if not counting or self.transport.is_closing():
            return
        # Counted after the parser ran, so a chunk that also finishes the head (and carries
        # the start of a body) is not held against it.
        self._head_bytes += len(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self.logger.warning("Request head over %d bytes refused", MAX_HEAD_BYTES)
            self.transport.write(_refusal())
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # the next request on a kept-alive connection
        self._head_bytes = 0
