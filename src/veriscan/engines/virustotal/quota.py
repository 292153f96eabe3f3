"""Each VirusTotal key's request allowance, shared by every worker that uses the key.

VirusTotal counts requests per key per minute, hour and day (a free key: 4 a minute,
500 a day). Before each request a slot is taken from every window; when a window is full the
request is scheduled for when it has room (malware/dispatch.py), so VirusTotal never has
to answer 429.
The windows live in `limits` storage: memory within one process, Redis across processes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

logger = logging.getLogger("veriscan.virustotal.quota")


class _Window(RateLimitItemPerSecond):
    """A window whose count is kept under a key without its amount: limits names a
    counter after the allowance, so a key whose allowance changes (the default until
    VirusTotal has said, then what it said) would start an empty count and let a burst
    through. Here the requests already sent in the window count whatever the allowance."""

    def key_for(self, *identifiers: bytes | str | int | float) -> str:
        parts = [str(k) for k in identifiers] + [str(self.multiples), self.GRANULARITY.name]
        return f"{self.namespace}/" + "/".join(parts)


@dataclass(frozen=True)
class Allowance:
    per_minute: int
    per_hour: int | None
    per_day: int


class QuotaGate:
    def __init__(
        self,
        redis_url: str,
        *,
        namespace: str = "veriscan",
        minute_seconds: float = 60.0,
        day_seconds: float = 86400.0,
        margin_seconds: float = 1.0,
    ) -> None:
        self.storage: Storage = (
            RedisStorage(redis_url, key_prefix=f"{namespace}-vtq") if redis_url else MemoryStorage()
        )
        self.limiter = MovingWindowRateLimiter(self.storage)
        # VirusTotal counts a request when it arrives; a little slack on each window keeps
        # a request sent at the very edge of our window out of VirusTotal's previous one.
        self.minute_seconds = minute_seconds
        self.day_seconds = day_seconds
        self.margin_seconds = margin_seconds

    def _items(self, allowance: Allowance) -> list[RateLimitItem]:
        def window(amount: int, seconds: float) -> RateLimitItem:
            return _Window(amount, max(1, round(seconds + self.margin_seconds)))

        items = [window(allowance.per_minute, self.minute_seconds)]
        if allowance.per_hour:
            items.append(window(allowance.per_hour, self.minute_seconds * 60))
        items.append(window(allowance.per_day, self.day_seconds))
        return items

    @staticmethod
    def key_id(api_key: str) -> str:
        # Never the key itself: storage keys show up in Redis tools and logs.
        return hashlib.sha256(api_key.encode()).hexdigest()[:24]

    def try_take(self, key: str, allowance: Allowance) -> float:
        """Take one slot in every window of the key with this fingerprint (`key_id`);
        0.0 when granted, else seconds until one may be."""
        for item in self._items(allowance):
            if not self.limiter.test(item, key):
                reset = self.limiter.get_window_stats(item, key).reset_time
                return max(0.05, reset - time.time())
        for item in self._items(allowance):
            if not self.limiter.hit(item, key):
                # Another worker took the slot between test and hit: ours is lost but
                # nothing was sent, so waiting a moment and trying again is safe.
                return 0.05
        return 0.0

    def too_old(self, age: float) -> bool:
        """Whether a request whose slot was taken `age` seconds ago may no longer use it.

        A slot is counted when it is taken; VirusTotal counts the request when it arrives.
        The windows here are longer than VirusTotal's by the margin, so requests keep to the
        allowance as long as each arrives within the margin of its slot: half of it for the
        way from the slot to the send (a queue, a database write waiting for a lock), half
        for the network. With no margin there is nothing to keep to."""
        return self.margin_seconds > 0 and age > self.margin_seconds / 2

    async def take(
        self, api_key: str, allowance: Allowance, *, deadline: float | None = None
    ) -> None:
        """Wait for a slot (a request being served waits, never a worker). Raises
        TimeoutError if it cannot come before `deadline` (monotonic)."""
        while True:
            wait = await asyncio.to_thread(self.try_take, self.key_id(api_key), allowance)
            if wait == 0.0:
                return
            if deadline is not None and time.monotonic() + wait > deadline:
                raise TimeoutError("VirusTotal quota leaves no room before the scan's deadline")
            logger.debug("virustotal.quota_wait key=%s seconds=%.2f", self.key_id(api_key), wait)
            await asyncio.sleep(wait)

    def penalise(self, key: str, allowance: Allowance) -> None:
        """VirusTotal said the quota is used up (another client shares the key): fill the
        minute of the key with this fingerprint."""
        item = self._items(allowance)[0]
        stats = self.limiter.get_window_stats(item, key)
        if stats.remaining > 0:
            self.limiter.hit(item, key, cost=stats.remaining)

    def close(self) -> None:
        if isinstance(self.storage, RedisStorage):
            self.storage.storage.close()
