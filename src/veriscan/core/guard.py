"""What every API response carries and what every API request may weigh.

A pure ASGI middleware, like the rate limiter, so that streamed uploads pass untouched:
the upload routes enforce their own (much larger) limit while they stream to disk.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from veriscan.core.errors import error_response

# An API answer is data, never a page: nothing in it may load, run or be framed, and no
# cache keeps it (it may hold a user's scans).
API_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


class BodyTooLarge(Exception):
    pass


class RequestGuardMiddleware:
    """Security headers on /api and /health answers; a size limit on non-upload bodies.

    A body with a Content-Length over the limit is refused before it is read. A chunked
    body is read here up to the limit (it is small by then) and handed on, so the 413 is
    in the envelope rather than a parser's failure deep inside a route.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        streamed_paths: Iterable[str],
        prefixes: tuple[str, ...] = ("/api", "/health"),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.streamed_paths = frozenset(streamed_paths)
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return

        streamed = scope["path"] in self.streamed_paths
        body_read = False
        inner_receive = receive

        async def watched_receive() -> Message:
            nonlocal body_read
            message = await inner_receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                body_read = True
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in API_HEADERS if k not in present]
                if streamed and not body_read and b"connection" not in present:
                    # An upload refused before its end (too large, malformed): close the
                    # connection after the answer, or the server would go on reading
                    # (and discarding) the rest only to keep the connection alive.
                    extra.append((b"connection", b"close"))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        if streamed:
            receive = watched_receive
        else:
            try:
                receive = await self._bounded(scope, receive)
            except BodyTooLarge:
                response = error_response(
                    413,
                    "PAYLOAD_TOO_LARGE",
                    f"The request body is larger than {self.max_body_bytes} bytes",
                    headers={"Connection": "close"},
                )
                await response(scope, receive, send_with_headers)
                return
        await self.app(scope, receive, send_with_headers)

    async def _bounded(self, scope: Scope, receive: Receive) -> Receive:
        declared = _content_length(scope)
        if declared is not None:
            if declared > self.max_body_bytes:
                raise BodyTooLarge
            return receive  # the server holds the body to its declared length
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE") and not _chunked(scope):
            return receive
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _replay([message], receive)
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(body)
            more = message.get("more_body", False)
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return _replay([whole], receive)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _chunked(scope: Scope) -> bool:
    return any(
        name == b"transfer-encoding" and b"chunked" in value.lower()
        for name, value in scope["headers"]
    )


def _replay(messages: list[Message], then: Receive) -> Receive:
    """Hand out the messages already read, then the server's own (a disconnect, later)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return receive
