"""Shared fixtures: a migrated database (SQLite, or PostgreSQL when
VERISCAN_TEST_DATABASE_URL is set), the VirusTotal stand-in, and live servers."""

from __future__ import annotations

import logging
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.engines.conftest import clamd  # noqa: F401 - a real clamd, for service tests too
from tests.live import LiveServer, LogCapture, live_server
from veriscan.accounts.models import Role
from veriscan.auth import service as auth_service
from veriscan.core.config import Settings
from veriscan.core.logging import configure_logging

TEST_PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def new_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """Make a fresh, empty database: SQLite, or PostgreSQL when VERISCAN_TEST_DATABASE_URL
    is set (each is dropped at the end). The service's migrations build the schema."""
    base = os.environ.get("VERISCAN_TEST_DATABASE_URL", "").strip()
    created: list[str] = []
    admin = ""
    if base:
        url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
        admin = url.set(drivername="postgresql").render_as_string(hide_password=False)

    def make() -> str:
        if not base:
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'veriscan.db'}"
        name = f"veriscan_test_{secrets.token_hex(4)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return url.set(database=name).render_as_string(hide_password=False)

    yield make
    if created:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(new_database: Callable[[], str]) -> str:
    """The session server's database."""
    return new_database()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("VERISCAN_TEST_REDIS_URL", "").strip()


@pytest.fixture(scope="session")
def vt() -> Iterator[Any]:
    from tests.vtstub import start_stub

    # VirusTotal's "minute" lasts one second here (the service is told the same), so quota
    # behaviour is exercised in seconds rather than minutes.
    with start_stub(minute_seconds=1.0) as stub:
        yield stub


def _vt_url(request: pytest.FixtureRequest) -> str:
    try:
        return str(request.getfixturevalue("vt").url)
    except ImportError:  # the stand-in is not there yet: nothing listens here
        return "http://127.0.0.1:9/api/v3"


@pytest.fixture(scope="session")
def log_capture() -> Iterator[LogCapture]:
    configure_logging("DEBUG")
    capture = LogCapture()
    root = logging.getLogger()
    root.addHandler(capture)
    yield capture
    root.removeHandler(capture)


@pytest.fixture(scope="session")
def settings_factory(
    tmp_path_factory: pytest.TempPathFactory,
    new_database: Callable[[], str],
    redis_url: str,
    request: pytest.FixtureRequest,
) -> Callable[..., Settings]:
    """Settings for a server of its own: data dir (blobs, queue) and database, unless given.

    Servers that share a database must share their blobs and workers too (that is the
    distributed deployment), so by default each test server gets its own of everything.
    """
    secret = secrets.token_urlsafe(32)

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path_factory.mktemp("data"),
            "database_url": overrides.get("database_url") or new_database(),
            "redis_url": redis_url,
            "secret_key": secret,
            "virustotal_url": _vt_url(request),
            "virustotal_timeout": 3.0,
            "rate_limit": "0",
            "log_level": "DEBUG",
            "virustotal_minute_seconds": 1.0,
            "virustotal_quota_margin_seconds": 0.0,
            "virustotal_first_poll_seconds": 0.05,
            "virustotal_poll_seconds": 0.05,
            "virustotal_poll_max_seconds": 0.2,
            "virustotal_retry_seconds": 0.05,
            "virustotal_retry_max_seconds": 0.2,
            "scan_lease_seconds": 3.0,
            # Every test server runs its own scans, also when they share one Redis.
            "workers": 4,
            "queue_name": f"veriscan-test-{secrets.token_hex(4)}",
            "sweep_interval_seconds": 0.5,
            # Argon2id still, at a test's cost: every account signs up and in (the real
            # parameters are measured in bench/load.py and docs/benchmarks.md).
            "password_hash_memory_kib": 1024,
            "password_hash_time_cost": 1,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture(scope="session")
def server(
    settings_factory: Callable[..., Settings], log_capture: LogCapture, database_url: str
) -> Iterator[LiveServer]:
    with live_server(settings_factory(database_url=database_url)) as live:
        yield live


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@dataclass
class Account:
    id: str
    username: str
    email: str
    password: str
    role: str
    access_token: str
    refresh_token: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_name(prefix: str = "user") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_account(server: LiveServer) -> Callable[..., Account]:
    """Create a user (through the API for operatives, the service for other roles) and log in."""

    def make(
        role: str = "operative", *, password: str = TEST_PASSWORD, on: LiveServer | None = None
    ) -> Account:
        target = on or server
        username = unique_name(role)
        email = f"{username}@example.com"
        with httpx.Client(base_url=target.url, timeout=30) as client:
            if role == "operative":
                response = client.post(
                    "/api/auth/register",
                    json={"username": username, "email": email, "password": password},
                )
                assert response.status_code == 201, response.text
            else:
                context = target.context
                with context.db.session() as session:
                    auth_service.create_user(
                        session,
                        context,
                        username=username,
                        email=email,
                        password=password,
                        role=Role(role),
                    )
            login = client.post(
                "/api/auth/login", json={"username": username, "password": password}
            )
            assert login.status_code == 200, login.text
            body = login.json()
        return Account(
            id=body["user"]["id"],
            username=username,
            email=email,
            password=password,
            role=role,
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
        )

    return make


@pytest.fixture
def account(make_account: Callable[..., Account]) -> Account:
    return make_account()


def assert_envelope(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """The response is an error in the contract's envelope, with this status (and code)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    error = body["error"]
    assert set(error) == {"message", "code", "statusCode", "timestamp"}
    assert error["statusCode"] == status
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def blob_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
