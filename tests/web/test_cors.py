"""Browser clients on another origin (VERISCAN_CORS_ORIGINS): allowed and refused, for the
REST API and socket.io, in headless Chromium and over plain HTTP.

Two small "frontends" are served on ports of their own (other origins than the API's): a
page that signs in with fetch() and connects with the socket.io client, as the React and
Next.js apps of the two documents do. One origin is configured, the other is not.
"""

from __future__ import annotations

import http.server
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_PASSWORD, Account
from tests.live import LiveServer, live_server

sync_api = pytest.importorskip("playwright.sync_api")

from tests.web.conftest import CHROMIUM  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM} (Debian package chromium)"
)

SOCKETIO = Path(__file__).resolve().parents[2] / "src/veriscan/web/static/vendor/socket.io.min.js"
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>frontend</title>
<script src="/socket.io.min.js"></script></head><body>frontend</body></html>"""


@contextmanager
def frontend() -> Iterator[str]:
    """A page and the socket.io client, on an origin of their own; yields the origin."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = (
                (SOCKETIO.read_bytes(), "text/javascript")
                if self.path == "/socket.io.min.js"
                else (PAGE, "text/html")
            )
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def origins() -> Iterator[tuple[str, str]]:
    with frontend() as allowed, frontend() as refused:
        yield allowed, refused


@pytest.fixture(scope="module")
def api_server(
    settings_factory: Callable[..., Any], origins: tuple[str, str]
) -> Iterator[LiveServer]:
    allowed, _ = origins
    with live_server(settings_factory(cors_origins=[allowed])) as live:
        yield live


SIGN_IN_AND_CONNECT = """async ([api, username, password]) => {
  const out = {};
  try {
    const response = await fetch(api + "/api/auth/login", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({username, password}),
    });
    out.status = response.status;
    out.limit = response.headers.get("X-RateLimit-Limit");
    out.token = (await response.json()).access_token;
  } catch (error) {
    out.fetchError = String(error);
  }
  out.socket = await new Promise((resolve) => {
    const socket = io(api, {auth: {token: out.token || "none"}, reconnection: false});
    socket.on("connect", () => { socket.disconnect(); resolve("connected"); });
    socket.on("connect_error", (error) => resolve("refused: " + error.message));
    setTimeout(() => resolve("timeout"), 8000);
  });
  return out;
}"""


def sign_in_from(browser: Any, origin: str, api: str, account: Account) -> dict[str, Any]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(origin)
        result: dict[str, Any] = page.evaluate(
            SIGN_IN_AND_CONNECT, [api, account.username, TEST_PASSWORD]
        )
        return result
    finally:
        context.close()


def test_a_configured_origin_signs_in_and_gets_live_events(
    browser: Any,
    api_server: LiveServer,
    origins: tuple[str, str],
    make_account: Callable[..., Account],
) -> None:
    allowed, _ = origins
    account = make_account(on=api_server)
    result = sign_in_from(browser, allowed, api_server.url, account)
    assert result["status"] == 200 and result["token"], result
    assert result["socket"] == "connected", result


def test_another_origin_is_refused_by_the_api_and_by_socketio(
    browser: Any,
    api_server: LiveServer,
    origins: tuple[str, str],
    make_account: Callable[..., Account],
) -> None:
    _, refused = origins
    account = make_account(on=api_server)
    result = sign_in_from(browser, refused, api_server.url, account)
    assert result == {
        "fetchError": "TypeError: Failed to fetch",
        "socket": "refused: xhr poll error",
    }


def test_preflight_and_headers_over_http(api_server: LiveServer, origins: tuple[str, str]) -> None:
    allowed, refused = origins
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    with httpx.Client(base_url=api_server.url, timeout=10) as client:
        ok = client.options("/api/auth/login", headers={"Origin": allowed, **asked})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == allowed
        assert "POST" in ok.headers["access-control-allow-methods"]
        allowed_headers = ok.headers["access-control-allow-headers"].lower().split(", ")
        assert {"authorization", "content-type"} <= set(allowed_headers)
        no = client.options("/api/auth/login", headers={"Origin": refused, **asked})
        assert no.status_code == 400 and "access-control-allow-origin" not in no.headers
        # An answer (an error envelope too) carries the origin and exposes the limits.
        answer = client.get("/api/keys/", headers={"Origin": allowed})
        assert answer.status_code == 401
        assert answer.headers["access-control-allow-origin"] == allowed
        exposed = answer.headers["access-control-expose-headers"]
        assert "X-RateLimit-Remaining" in exposed and "Retry-After" in exposed
        assert "X-Total-Count" in exposed
        assert (
            "access-control-allow-origin"
            not in client.get("/api/keys/", headers={"Origin": refused}).headers
        )


def test_without_configured_origins_only_the_same_origin_connects(
    server: LiveServer,
) -> None:
    """The default: no CORS headers, and socket.io refuses a foreign origin (its empty
    list used to turn the check off) while the dashboard's own origin connects."""
    polling = "/socket.io/?EIO=4&transport=polling&t=" + secrets.token_hex(4)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        foreign = client.get(polling, headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 400
        own = client.get(polling, headers={"Origin": server.url})
        assert own.status_code == 200 and own.text.startswith("0{")
        assert (
            "access-control-allow-origin"
            not in client.get("/api/keys/", headers={"Origin": "http://evil.example"}).headers
        )
