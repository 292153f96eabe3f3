"""API keys and their quotas, counted as VirusTotal counts them.

VirusTotal's public API allows 4 requests a minute and 500 a day per key, and answers
429 ``QuotaExceededError`` past either (docs.virustotal.com/docs/consumption-quotas-handled;
daily quotas reset at 00:00 UTC). Here:

* the per-minute (and per-hour) allowance is a *sliding* window: at most ``per_minute``
  admitted requests in any ``minute_seconds`` span. That is the strictest reading, so a
  client that passes against the stub cannot burst across a window edge against the real one;
* the daily (and monthly) allowance is a *fixed* window that restarts every ``day_seconds``
  (every ``30 * day_seconds`` for the month), counted from the stub's creation rather than
  from UTC midnight so a test with a short day sees a whole window;
* only admitted requests consume quota: a request answered 429 does not.

Not thread-safe on its own: the stub calls it under its lock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Windows:
    """Window lengths in seconds; tests shorten them."""

    minute: float = 60.0
    day: float = 86400.0

    @property
    def hour(self) -> float:
        return self.minute * 60

    @property
    def month(self) -> float:
        return self.day * 30


@dataclass
class KeyAccount:
    key: str
    user_id: str
    kind: str  # "public" or "premium": shown in the user object, no effect on limits
    per_minute: int | None  # None: no limit
    per_hour: int | None
    per_day: int | None
    per_month: int | None
    origin: float  # clock time the fixed windows count from
    _recent: deque[float] = field(default_factory=deque)  # admitted times, last hour
    _day: tuple[int, int] = (0, 0)  # (window index, admitted in it)
    _month: tuple[int, int] = (0, 0)
    total: int = 0  # every admitted request, for the record

    def reset(self, now: float) -> None:
        """Forget all use, as if the key were new."""
        self._recent.clear()
        self._day = self._month = (0, 0)
        self.total = 0
        self.origin = now

    def _prune(self, now: float, windows: Windows) -> None:
        horizon = now - max(windows.hour, windows.minute)
        while self._recent and self._recent[0] <= horizon:
            self._recent.popleft()

    def _in_last(self, now: float, seconds: float) -> int:
        return sum(1 for t in self._recent if t > now - seconds)

    def _fixed(self, now: float, length: float, current: tuple[int, int]) -> int:
        index = int((now - self.origin) // length)
        return current[1] if current[0] == index else 0

    def usage(self, now: float, windows: Windows) -> dict[str, int]:
        self._prune(now, windows)
        return {
            "minute": self._in_last(now, windows.minute),
            "hour": self._in_last(now, windows.hour),
            "day": self._fixed(now, windows.day, self._day),
            "month": self._fixed(now, windows.month, self._month),
        }

    def try_consume(self, now: float, windows: Windows) -> str | None:
        """Admit one request and count it, or name the allowance it would exceed."""
        used = self.usage(now, windows)
        limits = {
            "minute": self.per_minute,
            "hour": self.per_hour,
            "day": self.per_day,
            "month": self.per_month,
        }
        for period, limit in limits.items():
            if limit is not None and used[period] >= limit:
                return period
        self._recent.append(now)
        self._day = (int((now - self.origin) // windows.day), used["day"] + 1)
        self._month = (int((now - self.origin) // windows.month), used["month"] + 1)
        self.total += 1
        return None

    def quotas(self, now: float, windows: Windows) -> dict[str, dict[str, Any]]:
        """The user object's ``quotas`` attribute: {name: {"allowed", "used"}}.

        VirusTotal names them ``api_requests_hourly``, ``api_requests_daily`` and
        ``api_requests_monthly``; there is no per-minute entry. An unlimited allowance is
        reported as a very large number, as integers are what clients expect there.
        """
        used = self.usage(now, windows)

        def allowed(limit: int | None) -> int:
            return limit if limit is not None else 1_000_000_000

        return {
            "api_requests_hourly": {"allowed": allowed(self.per_hour), "used": used["hour"]},
            "api_requests_daily": {"allowed": allowed(self.per_day), "used": used["day"]},
            "api_requests_monthly": {"allowed": allowed(self.per_month), "used": used["month"]},
        }
