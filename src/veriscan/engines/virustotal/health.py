"""Whether VirusTotal has been answering: the last failure, since when it has failed and
the last answer after it, shared by every process of a deployment (Redis) or kept in this
one. /health reads it: VirusTotal itself is never called there (every call spends quota).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import redis


@dataclass(frozen=True)
class Failing:
    since: float  # time.time() of the first failure since the last answer
    last: float  # time.time() of the latest failure
    reason: str


class ReachLog:
    def __init__(self, redis_url: str, namespace: str = "veriscan") -> None:
        self._redis = redis.Redis.from_url(redis_url) if redis_url else None
        self._key = f"{namespace}-vtreach"
        self._local: dict[str, str] = {}
        self._guard = threading.Lock()
        # Whether to look: after a failure seen here, or now and then (another process
        # may have seen one), so that an answer costs no write while all is well.
        self._failing = False
        self._next_look = 0.0

    def _read(self) -> dict[str, str]:
        if self._redis is None:
            with self._guard:
                return dict(self._local)
        raw: dict[bytes, bytes] = self._redis.hgetall(self._key)  # type: ignore[assignment]
        return {k.decode(): v.decode() for k, v in raw.items()}

    def _write(self, values: dict[str, str]) -> None:
        if self._redis is None:
            with self._guard:
                self._local.update(values)
            return
        self._redis.hset(self._key, mapping=dict(values))  # type: ignore[arg-type]

    def failed(self, reason: str) -> None:
        now = time.time()
        state = self._read()
        values = {"last": repr(now), "reason": reason[:200]}
        if "since" not in state or float(state.get("ok", "0")) >= float(state["since"]):
            values["since"] = repr(now)
        self._write(values)
        self._failing = True

    def answered(self) -> None:
        now = time.time()
        if not self._failing and now < self._next_look:
            return
        self._next_look = now + 10.0
        state = self._read()
        if "last" in state and float(state.get("ok", "0")) < float(state["last"]):
            self._write({"ok": repr(now)})
        self._failing = False

    def failing(self, within: float) -> Failing | None:
        """The failure, if VirusTotal failed in the last `within` seconds and has not
        answered since."""
        state = self._read()
        if "last" not in state:
            return None
        last = float(state["last"])
        if time.time() - last > within or float(state.get("ok", "0")) >= last:
            return None
        return Failing(float(state.get("since", last)), last, state.get("reason", ""))

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
