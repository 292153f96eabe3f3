"""GET /health and GET /api/health: what each part of the server says, and the status."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engines.conftest import Clamd
from tests.live import LiveServer, live_server
from veriscan import __version__
from veriscan.admin.health import safe_url
from veriscan.core.config import Settings

CHECK_KEYS = {"status", "latencyMs", "detail"}


def health(url: str, path: str = "/health") -> httpx.Response:
    return httpx.get(f"{url}{path}", timeout=10)


def checks_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every check by name, the engines' included, each with exactly its three keys."""
    assert set(body) == {"status", "version", "uptimeSeconds", "checks"}
    assert set(body["checks"]) == {"database", "queue", "engines", "socketio"}
    assert set(body["checks"]["engines"]) == {"yara", "clamav", "virustotal"}
    found = {name: body["checks"][name] for name in ("database", "queue", "socketio")}
    found.update(body["checks"]["engines"])
    for check in found.values():
        assert set(check) == CHECK_KEYS
        assert check["status"] in ("ok", "down", "disabled", "degraded")
        assert 0 <= check["latencyMs"] < 2500
    return found


@pytest.fixture
def fresh(settings_factory: Callable[..., Settings]) -> Iterator[LiveServer]:
    """A server of its own: the shared one has seen other tests take VirusTotal offline."""
    with live_server(settings_factory()) as live:
        yield live


def test_healthy_server(fresh: LiveServer) -> None:
    server = fresh
    response = health(server.url)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok" and body["version"] == __version__
    assert body["uptimeSeconds"] >= 0
    checks = checks_of(body)
    assert checks["database"]["status"] == "ok"
    assert checks["database"]["detail"] == server.context.db.engine.dialect.name
    assert checks["queue"]["status"] == "ok"
    backend = "redis" if server.settings.redis_url else "sqlite"
    assert checks["queue"]["detail"].startswith(f"{backend}, ")
    assert checks["yara"]["status"] == "ok" and checks["yara"]["detail"].startswith("yara-x ")
    assert checks["clamav"]["status"] == "disabled"  # no clamd socket configured
    assert checks["virustotal"]["status"] == "ok"
    vt_url = server.settings.virustotal_url
    assert checks["virustotal"]["detail"].startswith(f"configured ({vt_url}), ")
    assert checks["socketio"]["status"] == "ok"
    assert checks["socketio"]["detail"].startswith("mounted at /socket.io")
    # The same body at /api/health, also without a token; and nothing secret in it.
    same = health(server.url, "/api/health")
    assert same.status_code == 200
    assert checks_of(same.json()).keys() == checks.keys()
    assert same.json()["status"] == "ok"
    assert server.settings.secret_key.get_secret_value() not in same.text
    assert server.settings.resolved_database_url not in same.text
    assert same.headers["cache-control"] == response.headers["cache-control"] == "no-store"


def test_clamav_that_does_not_answer_degrades(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    with live_server(settings_factory(clamd_socket=str(tmp_path / "no-clamd.sock"))) as live:
        response = health(live.url)
        assert response.status_code == 200, response.text
        body = response.json()
        checks = checks_of(body)
        assert body["status"] == "degraded"
        assert checks["clamav"] == {**checks["clamav"], "status": "down"}
        assert checks["clamav"]["detail"] == "clamd is not answering"
        assert str(tmp_path) not in response.text  # no server path either
        assert checks["database"]["status"] == checks["queue"]["status"] == "ok"
        assert health(live.url, "/api/health").json()["status"] == "degraded"


def test_clamav_that_answers(settings_factory: Callable[..., Settings], clamd: Clamd) -> None:
    with live_server(settings_factory(clamd_socket=str(clamd.socket))) as live:
        response = health(live.url, "/api/health")
        assert response.status_code == 200, response.text
        clamav = response.json()["checks"]["engines"]["clamav"]
        assert clamav["status"] == "ok" and clamav["detail"].startswith("ClamAV ")


def test_yara_turned_off_is_disabled(settings_factory: Callable[..., Settings]) -> None:
    with live_server(settings_factory(yara_enabled=False, virustotal_url="")) as live:
        body = health(live.url).json()
        assert body["status"] == "ok"
        assert body["checks"]["engines"]["yara"]["status"] == "disabled"
        assert body["checks"]["engines"]["virustotal"]["status"] == "disabled"


def test_database_gone_is_down(
    settings_factory: Callable[..., Settings], tmp_path: Path, redis_url: str
) -> None:
    # Always SQLite here: a database file replaced by a folder cannot be opened by anyone
    # (root included), and SQLite cannot create it anew either.
    database = tmp_path / "gone.db"
    with live_server(settings_factory(database_url=f"sqlite:///{database}")) as live:
        assert health(live.url).status_code == 200
        for path in tmp_path.glob("gone.db*"):
            path.unlink()
        database.mkdir()
        live.context.db.engine.dispose()  # open connections would still see the old file
        for path in ("/health", "/api/health"):
            response = health(live.url, path)
            assert response.status_code == 503, response.text
            body = response.json()
            checks = checks_of(body)
            assert body["status"] == "down"
            assert checks["database"]["status"] == "down"
            assert checks["database"]["detail"].startswith("not answering (")
            assert checks["queue"]["status"] == "ok"
            assert "active keys" in checks["virustotal"]["detail"]  # "unknown active keys"
        shutil.rmtree(database)


def test_queue_gone_is_down(
    settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_server(settings_factory()) as live:

        def broken() -> int:
            raise ConnectionError("queue storage unreachable")

        monkeypatch.setattr(live.context.huey, "pending_count", broken)
        response = health(live.url, "/api/health")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "down"
        assert checks_of(body)["queue"] == {
            **body["checks"]["queue"],
            "status": "down",
            "detail": "not answering (ConnectionError)",
        }
        monkeypatch.undo()


def test_urls_are_shown_without_passwords() -> None:
    assert safe_url("https://www.virustotal.com/api/v3") == "https://www.virustotal.com/api/v3"
    assert safe_url("https://user:s3cret@vt.example/api/v3?key=k") == (
        "https://user:***@vt.example/api/v3"
    )
