"""A key's quota windows, and its allowance read from VirusTotal's user object."""

from __future__ import annotations

from veriscan.engines.virustotal.engine import allowance_from
from veriscan.engines.virustotal.quota import Allowance, QuotaGate

DEFAULT = Allowance(per_minute=4, per_hour=None, per_day=500)


def test_requests_count_whatever_the_allowance_is_now() -> None:
    """The key check takes a slot under the default allowance; the scans after it, under
    what VirusTotal said. Both count in the same window (a counter named after the
    allowance would start empty and let a burst through)."""
    gate = QuotaGate("", minute_seconds=60.0, margin_seconds=0.0)
    key = gate.key_id("k" * 64)
    assert [gate.try_take(key, DEFAULT) for _ in range(4)] == [0.0] * 4
    assert gate.try_take(key, DEFAULT) > 0
    learned = Allowance(per_minute=6, per_hour=360, per_day=500)
    assert [gate.try_take(key, learned) == 0.0 for _ in range(3)] == [True, True, False]
    other = gate.key_id("o" * 64)
    assert gate.try_take(other, DEFAULT) == 0.0  # each key its own windows


def test_allowance_from_the_user_object() -> None:
    def user(**quotas: int) -> dict[str, object]:
        return {"attributes": {"quotas": {k: {"allowed": v, "used": 0} for k, v in quotas.items()}}}

    free = user(api_requests_hourly=240, api_requests_daily=500, api_requests_monthly=15500)
    assert allowance_from(free, DEFAULT) == Allowance(4, 240, 500)
    premium = user(api_requests_hourly=30_000, api_requests_daily=1_000_000)
    assert allowance_from(premium, DEFAULT) == Allowance(500, 30_000, 1_000_000)
    daily_only = user(api_requests_daily=100_000)
    assert allowance_from(daily_only, DEFAULT) == Allowance(69, None, 100_000)
    small_daily = user(api_requests_daily=500)
    assert allowance_from(small_daily, DEFAULT) == Allowance(4, None, 500)
    assert allowance_from({}, DEFAULT) == DEFAULT
    assert allowance_from(user(api_requests_hourly=0), DEFAULT) == DEFAULT
