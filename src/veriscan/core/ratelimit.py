"""Per-address rate limits on /api with the `limits` library (memory or Redis storage).

A pure ASGI middleware, so that streamed uploads pass through untouched.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from redis.asyncio import ConnectionPool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from veriscan.core.errors import error_response

logger = logging.getLogger("veriscan.ratelimit")


class LimiterStore:
    """The limits storage, and the Redis connections behind it to close at shutdown."""

    def __init__(self, redis_url: str, namespace: str = "veriscan") -> None:
        self._pool: ConnectionPool | None = None
        if redis_url:
            self._pool = ConnectionPool.from_url(redis_url)
            # The async Redis storage needs redis-py named explicitly (see DESIGN.md).
            self.storage: Storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=f"{namespace}-rl",
                connection_pool=self._pool,  # type: ignore[arg-type]  # passed to redis-py
            )
        else:
            self.storage = MemoryStorage()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: str, storage: Storage, prefix: str = "/api") -> None:
        self.app = app
        self.prefix = prefix
        self.items: list[RateLimitItem] = parse_many(limit)
        self.limiter = FixedWindowRateLimiter(storage)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        try:
            headers, retry_after = await self._check(address)
        except Exception:  # the limiter's store is down: serve rather than fail
            logger.warning("ratelimit.unavailable", exc_info=True)
            await self.app(scope, receive, send)
            return
        if retry_after is not None:
            response = error_response(
                429,
                "RATE_LIMITED",
                "Too many requests: try again later",
                headers={**headers, "Retry-After": str(retry_after)},
            )
            await response(scope, receive, send)
            return

        raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + raw_headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _check(self, address: str) -> tuple[dict[str, str], int | None]:
        """Count this request against every limit; the tightest one fills the headers."""
        tightest: tuple[int, int, float] | None = None  # remaining, limit, reset
        refused_until: float | None = None
        for item in self.items:
            allowed = await self.limiter.hit(item, "addr", address)
            stats: Any = await self.limiter.get_window_stats(item, "addr", address)
            reset, remaining = float(stats.reset_time), int(stats.remaining)
            if not allowed:
                refused_until = max(refused_until or 0.0, reset)
            if tightest is None or remaining < tightest[0]:
                tightest = (remaining, item.amount, reset)
        assert tightest is not None
        remaining, amount, reset = tightest
        headers = {
            "X-RateLimit-Limit": str(amount),
            "X-RateLimit-Remaining": str(max(remaining, 0)),
            "X-RateLimit-Reset": str(math.ceil(reset)),
        }
        if refused_until is None:
            return headers, None
        return headers, max(1, math.ceil(refused_until - time.time()))
