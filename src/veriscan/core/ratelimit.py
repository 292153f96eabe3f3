"""Rate limits on /api with the `limits` library (memory or Redis storage).

Requests without a valid access token (sign-in, registration, refresh: the brute-force
surface) are counted per client address, with the documents' 100 per 15 minutes.
Requests with one are counted per user (`VERISCAN_USER_RATE_LIMIT`, 1,000 per 15
minutes): a person using the dashboard (about 8 calls a result page) never meets it, and
a team behind one proxy is not locked out together. The token's signature and expiry are
checked here (no database); a revoked session still counts against its user.

A pure ASGI middleware, so that streamed uploads pass through untouched.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
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
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: str,
        storage: Storage,
        prefix: str = "/api",
        user_limit: str = "",
        identify: Callable[[str], str | None] = lambda _: None,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.items: list[RateLimitItem] = parse_many(limit)
        # Empty or "0": authenticated requests are not limited.
        self.user_items: list[RateLimitItem] = (
            parse_many(user_limit) if user_limit.strip() not in ("", "0") else []
        )
        self.identify = identify
        self.limiter = FixedWindowRateLimiter(storage)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        user = self._user_of(scope)
        if user is not None and not self.user_items:
            await self.app(scope, receive, send)
            return
        if user is not None:
            items, kind, who = self.user_items, "user", user
        else:
            client = scope.get("client")
            items, kind, who = self.items, "addr", client[0] if client else "unknown"
        try:
            headers, retry_after = await self._check(items, kind, who)
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

    def _user_of(self, scope: Scope) -> str | None:
        """The user of a valid bearer access token in the request, if any."""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    return self.identify(token.strip())
                return None
        return None

    async def _check(
        self, items: list[RateLimitItem], kind: str, who: str
    ) -> tuple[dict[str, str], int | None]:
        """Count this request against every limit; the tightest one fills the headers."""
        tightest: tuple[int, int, float] | None = None  # remaining, limit, reset
        refused_until: float | None = None
        for item in items:
            allowed = await self.limiter.hit(item, kind, who)
            stats: Any = await self.limiter.get_window_stats(item, kind, who)
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
