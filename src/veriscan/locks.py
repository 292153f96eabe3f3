"""Named locks that every worker respects: threads of one process, or all processes via Redis.

Used so that scans of the same content share one VirusTotal lookup: the first takes the
lock and fills the results cache, the others wait and then find the cache filled.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import redis


class NamedLocks:
    def __init__(self, redis_url: str, namespace: str = "veriscan") -> None:
        self._namespace = namespace
        self._redis = redis.Redis.from_url(redis_url) if redis_url else None
        self._local: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _local_lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._local.setdefault(name, threading.Lock())

    @asynccontextmanager
    async def hold(self, name: str, *, wait: float, ttl: float) -> AsyncIterator[None]:
        """Hold `name` for the block. Waits at most `wait` seconds (TimeoutError after).

        `ttl` bounds how long a Redis lock outlives a process that died holding it.
        Across processes the wait is polled by redis-py (every 0.1 s).
        """
        wait = max(wait, 0.0)
        if self._redis is None:
            lock = self._local_lock(name)
            if not await asyncio.to_thread(lock.acquire, True, wait):
                raise TimeoutError(f"lock {name} still held by another scan")
            try:
                yield
            finally:
                lock.release()
            return
        # The lock expires `ttl` seconds after its last renewal, so one held by a process
        # that died frees itself soon; while held, it is renewed every third of that.
        ttl = max(ttl, 1.0)
        redis_lock = self._redis.lock(
            f"{self._namespace}-lock:{name}", timeout=ttl, blocking_timeout=1.0, thread_local=False
        )
        give_up = time.monotonic() + wait
        # Short blocking waits in a loop, so that a stopping process is not held up.
        while not await asyncio.to_thread(redis_lock.acquire):
            if time.monotonic() >= give_up:
                raise TimeoutError(f"lock {name} still held by another scan")

        async def renew() -> None:
            while True:
                await asyncio.sleep(ttl / 3)
                with contextlib.suppress(redis.exceptions.LockError):
                    await asyncio.to_thread(redis_lock.reacquire)

        renewing = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewing.cancel()
            # LockError: it expired first; the work is done either way.
            with contextlib.suppress(redis.exceptions.LockError):
                redis_lock.release()  # one quick command: not worth a thread

    @contextlib.contextmanager
    def briefly(self, name: str, *, wait: float, ttl: float) -> Iterator[None]:
        """Hold `name` for a short block of work (no renewal: `ttl` must outlast it).
        Waits at most `wait` seconds (TimeoutError after)."""
        if self._redis is None:
            lock = self._local_lock(name)
            if not lock.acquire(True, max(wait, 0.0)):
                raise TimeoutError(f"lock {name} still held")
            try:
                yield
            finally:
                lock.release()
            return
        redis_lock = self._redis.lock(
            f"{self._namespace}-lock:{name}",
            timeout=max(ttl, 1.0),
            sleep=0.005,
            blocking_timeout=max(wait, 0.0),
            thread_local=False,
        )
        if not redis_lock.acquire():
            raise TimeoutError(f"lock {name} still held")
        try:
            yield
        finally:
            with contextlib.suppress(redis.exceptions.LockError):
                redis_lock.release()

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
