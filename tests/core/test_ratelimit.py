"""Rate limits per client address: headers on every /api response, 429 in the envelope."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer, live_server
from veriscan.core.config import Settings


@pytest.fixture(scope="module")
def limited(settings_factory: Callable[..., Settings]) -> Iterator[LiveServer]:
    with live_server(settings_factory(rate_limit="5/minute;1000/day")) as live:
        yield live


def _address() -> str:
    # Each test poses as its own client (the proxy header is trusted from loopback), so
    # counters left in a shared Redis by an earlier run cannot interfere.
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def test_headers_and_429(limited: LiveServer) -> None:
    headers = {"X-Forwarded-For": _address()}
    with httpx.Client(base_url=limited.url) as client:
        seen = []
        for _ in range(5):
            response = client.post("/api/auth/login", json={}, headers=headers)
            assert response.status_code == 400
            seen.append(int(response.headers["X-RateLimit-Remaining"]))
            assert response.headers["X-RateLimit-Limit"] == "5"
            reset = int(response.headers["X-RateLimit-Reset"])
            assert time.time() < reset <= time.time() + 61
        assert seen == [4, 3, 2, 1, 0]
        refused = client.get("/api/auth/profile", headers=headers)
        error = assert_envelope(refused, 429, "RATE_LIMITED")
        assert "Too many requests" in error["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        # Another address has its own allowance; pages outside /api are not limited.
        other = client.get("/api/auth/profile", headers={"X-Forwarded-For": _address()})
        assert other.status_code == 401 and other.headers["X-RateLimit-Remaining"] == "4"
        assert client.get("/health", headers=headers).status_code == 200
        assert "X-RateLimit-Limit" not in client.get("/health", headers=headers).headers


def test_unknown_routes_are_counted_too(limited: LiveServer) -> None:
    headers = {"X-Forwarded-For": _address()}
    with httpx.Client(base_url=limited.url) as client:
        response = client.get("/api/missing", headers=headers)
        assert response.status_code == 404 and response.headers["X-RateLimit-Remaining"] == "4"


def test_window_resets(settings_factory: Callable[..., Settings]) -> None:
    headers = {"X-Forwarded-For": _address()}
    with (
        live_server(settings_factory(rate_limit="2/2second")) as live,
        httpx.Client(base_url=live.url) as client,
    ):
        assert [client.get("/api/auth/profile", headers=headers).status_code for _ in range(3)] == [
            401,
            401,
            429,
        ]
        time.sleep(2.1)
        assert client.get("/api/auth/profile", headers=headers).status_code == 401


def test_zero_disables(settings_factory: Callable[..., Settings]) -> None:
    with (
        live_server(settings_factory(rate_limit="0")) as live,
        httpx.Client(base_url=live.url) as client,
    ):
        response = client.get("/api/auth/profile")
        assert "X-RateLimit-Limit" not in response.headers


def test_malformed_limit_is_refused_at_start(settings_factory: Callable[..., Settings]) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        settings_factory(rate_limit="lots please")


def test_signed_in_requests_count_per_user_not_per_address(
    settings_factory: Callable[..., Settings], make_account: Callable[..., Account]
) -> None:
    """Two people behind one proxy: each has the per-user allowance; requests without a
    valid token keep the address's own (the brute-force surface)."""
    with (
        live_server(settings_factory(rate_limit="10/minute", user_rate_limit="5/minute")) as live,
        httpx.Client(base_url=live.url) as client,
    ):
        first, second = make_account(on=live), make_account(on=live)
        proxy = _address()

        def as_user(account: Account) -> httpx.Response:
            return client.get(
                "/api/auth/profile", headers={**account.headers, "X-Forwarded-For": proxy}
            )

        seen = []
        for _ in range(5):
            response = as_user(first)
            assert response.status_code == 200
            assert response.headers["X-RateLimit-Limit"] == "5"
            seen.append(int(response.headers["X-RateLimit-Remaining"]))
        assert seen == [4, 3, 2, 1, 0]
        refused = as_user(first)
        assert_envelope(refused, 429, "RATE_LIMITED")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # The colleague behind the same proxy is not locked out with them...
        other = as_user(second)
        assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "4"
        # ...nor is the address's own allowance spent (sign-in, or a token that is no good).
        anonymous = client.post("/api/auth/login", json={}, headers={"X-Forwarded-For": proxy})
        assert anonymous.status_code == 400 and anonymous.headers["X-RateLimit-Limit"] == "10"
        assert anonymous.headers["X-RateLimit-Remaining"] == "9"
        forged = client.get(
            "/api/auth/profile",
            headers={"Authorization": "Bearer not-a-token", "X-Forwarded-For": proxy},
        )
        assert forged.status_code == 401 and forged.headers["X-RateLimit-Remaining"] == "8"
