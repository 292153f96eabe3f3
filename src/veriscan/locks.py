"""Named locks that every worker respects: threads of one process, or all processes via Redis.

Used so that one dispatcher at a time hands out a VirusTotal key's quota slots
(malware/dispatch.py): short critical sections, so the lock is simply waited for.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

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
