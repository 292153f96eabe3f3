"""Security headers: every /api answer and /health (errors included) is data that nothing
may run, frame, sniff or cache (core/guard.py); the dashboard's pages and assets carry
their own policy (web/__init__.py), which a Host header cannot extend."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import assert_envelope
from tests.live import LiveServer, live_server
from tests.security.conftest import Victim
from tests.security.helpers import (
    API_SECURITY_HEADERS,
    assert_api_headers,
    combinations,
    enum_queries,
    fill,
    operations,
)
from veriscan.core.config import Settings
from veriscan.web import CLIENT_ROUTES, STATIC_DIR

# The one /api answer that may be cached: evidence pictures, in the browser only
# (media/endpoints.py asks for it; the guard keeps a route's own Cache-Control).
PUBLIC = {"/api/auth/register", "/api/auth/login", "/health", "/api/health"}
PRIVATELY_CACHED = {"/api/scans/{scan_id}/evidence/{name}": "private, max-age=3600"}


def _assert_headers(response: httpx.Response, template: str = "") -> None:
    for name, value in API_SECURITY_HEADERS.items():
        if name == "cache-control" and template in PRIVATELY_CACHED:
            value = PRIVATELY_CACHED[template]
        assert response.headers.get(name) == value, (template, str(response.url), name)


def test_every_answer_of_the_schema_carries_them(
    api: httpx.Client, spec: dict[str, Any], victim: Victim, make_account: Callable[..., Any]
) -> None:
    """Each operation: as the owner where it reads A's data, with no token (401) and with
    an unknown id (404)."""
    admin = make_account("admin")
    statuses: set[int] = set()
    for method, template, operation in operations(spec):
        asking = admin if template.startswith("/api/admin/") else victim.account
        if method == "GET":
            for values in combinations(template, victim.ids(template)):
                for query in enum_queries(operation):
                    response = api.get(fill(template, values), params=query, headers=asking.headers)
                    assert response.status_code == 200, response.text
                    _assert_headers(response, template)
        unknown = {name: str(uuid.uuid4()) for name in victim.ids(template)}
        anonymous = api.request(method, fill(template, unknown))
        if template not in PUBLIC:
            assert_envelope(anonymous, 401, "UNAUTHORIZED")
        _assert_headers(anonymous)
        if "{" in template and template not in ("/api/scan/user/{user_id}",):
            missing = api.request(method, fill(template, unknown), headers=asking.headers, json={})
            statuses.add(missing.status_code)
            _assert_headers(missing)
    assert statuses == {400, 403, 404}  # 400: body checks; 403: only admins delete scans


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/no/such/thing", 404),
        ("GET", "/api", 404),
        ("DELETE", "/api/auth/login", 405),
        ("PATCH", "/api/files/", 405),
        ("POST", "/api/auth/login", 400),
        ("POST", "/api/auth/register", 400),
        ("GET", "/health", 200),
        ("POST", "/health", 405),
    ],
)
def test_errors_carry_them_too(api: httpx.Client, method: str, path: str, status: int) -> None:
    response = api.request(
        method, path, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    if status >= 400:
        assert_envelope(response, status)
    assert_api_headers(response, f"{method} {path}")


@pytest.fixture(scope="module")
def throttled(settings_factory: Callable[..., Settings]) -> Iterator[LiveServer]:
    with live_server(settings_factory(rate_limit="3/minute", workers=0)) as live:
        yield live


def test_a_rate_limited_answer_carries_them(throttled: LiveServer) -> None:
    with httpx.Client(base_url=throttled.url) as client:
        answers = [client.get("/api/auth/profile") for _ in range(4)]
    assert [r.status_code for r in answers] == [401, 401, 401, 429]
    limited = answers[-1]
    assert_envelope(limited, 429, "RATE_LIMITED")
    assert int(limited.headers["retry-after"]) > 0
    for response in answers:
        assert_api_headers(response, "rate limited")
        assert response.headers["x-ratelimit-limit"] == "3"


def _dashboard_policy(host: str) -> str:
    return (
        f"default-src 'self'; connect-src 'self' ws://{host} wss://{host}; "
        "img-src 'self' blob: data:; media-src 'self' blob:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _dashboard_paths() -> list[str]:
    assets = [
        f"/static/{p.relative_to(STATIC_DIR).as_posix()}"
        for p in STATIC_DIR.rglob("*")
        if p.is_file()
    ]
    pages = [route.replace("{rest:path}", "malware/1234") for route in CLIENT_ROUTES]
    return pages + assets


def test_every_page_and_asset_of_the_dashboard_has_its_policy(server: LiveServer) -> None:
    paths = _dashboard_paths()
    assert "/static/js/app.js" in paths and "/" in paths
    host = f"127.0.0.1:{server.port}"
    with httpx.Client(base_url=server.url) as client:
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-security-policy"] == _dashboard_policy(host), path
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    "host",
    [
        "evil.example; script-src 'unsafe-inline' *",
        "evil.example 'unsafe-eval'",
        'a"b',
        "[::1]:80; img-src *",
    ],
)
def test_a_host_header_cannot_widen_the_dashboards_policy(server: LiveServer, host: str) -> None:
    with httpx.Client(base_url=server.url) as client:
        for path in ("/", "/static/js/app.js"):
            policy = client.get(path, headers={"Host": host}).headers["content-security-policy"]
            assert policy == (
                "default-src 'self'; connect-src 'self'; img-src 'self' blob: data:; "
                "media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
                "form-action 'self'; frame-ancestors 'none'"
            )


def test_a_missing_asset_is_an_enveloped_404_with_the_api_headers(api: httpx.Client) -> None:
    response = api.get("/static/js/no-such-module.js")
    assert_envelope(response, 404, "NOT_FOUND")
    _assert_headers(response)
