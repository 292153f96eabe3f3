"""socket.io on the service's port, with a real socket.io client."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import socketio

from tests.conftest import Account
from tests.live import LiveServer
from tests.malware.helpers import add_key, eicar_variant, unique_content, upload, wait_for


class Listener:
    """A connected client that records every scan event it receives."""

    def __init__(self) -> None:
        self.client = socketio.Client(reconnection=False)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._changed = threading.Condition()
        for name in ("scan:progress", "scan:complete", "scan:error"):
            self.client.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Callable[[dict[str, Any]], None]:
        def record(data: dict[str, Any]) -> None:
            with self._changed:
                self.events.append((name, data))
                self._changed.notify_all()

        return record

    def wait_for(self, name: str, scan_id: str, timeout: float = 15.0) -> dict[str, Any]:
        with self._changed:
            found = self._changed.wait_for(
                lambda: next(
                    (d for n, d in self.events if n == name and d.get("scanId") == scan_id), None
                ),
                timeout,
            )
        assert found, f"no {name} for {scan_id}; got {self.events}"
        return dict(found)


@contextmanager
def listening(server: LiveServer, token: str | None) -> Iterator[Listener]:
    listener = Listener()
    auth = {"token": token} if token is not None else None
    listener.client.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=10)
    try:
        yield listener
    finally:
        listener.client.disconnect()


@pytest.mark.parametrize("token", [None, "", "not-a-jwt"])
def test_a_connection_without_a_valid_token_is_refused(
    server: LiveServer, token: str | None
) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError), listening(server, token):
        pass


def test_a_refresh_token_or_a_revoked_token_is_refused(
    server: LiveServer, account: Account, api: Any
) -> None:
    with (
        pytest.raises(socketio.exceptions.ConnectionError),
        listening(server, account.refresh_token),
    ):
        pass
    api.post("/api/auth/logout", headers=account.headers)
    with (
        pytest.raises(socketio.exceptions.ConnectionError),
        listening(server, account.access_token),
    ):
        pass


def test_the_owner_sees_progress_and_completion(
    server: LiveServer, api: Any, make_account: Callable[..., Account], vt: Any
) -> None:
    owner, other = make_account(), make_account()
    add_key(api, owner, vt)
    with (
        listening(server, owner.access_token) as mine,
        listening(server, other.access_token) as theirs,
    ):
        body = upload(api, owner, eicar_variant())
        scan_id = body["scan"]["scan_id"]
        complete = mine.wait_for("scan:complete", scan_id)
        assert complete == {
            "scanId": scan_id,
            "kind": "malware",
            "fileId": body["id"],
            "status": "completed",
            "detection_ratio": "9/9",
        }
        progress = [d for n, d in mine.events if n == "scan:progress" and d["scanId"] == scan_id]
        assert progress and progress[0]["kind"] == "malware"
        assert [p["progress"] for p in progress] == sorted(p["progress"] for p in progress)
        assert {"scanning", "virustotal:queued", "virustotal:upload"} <= {
            p["stage"] for p in progress
        }
        # YARA-X's verdict arrives before VirusTotal's part begins, with what is to come.
        local = next(p for p in progress if p["stage"] == "virustotal:queued")
        assert local["status"] == "scanning" and local["detection_ratio"] == "1/1"
        assert local["verdict"] == "malicious"
        assert [(r["engine_name"], r["category"]) for r in local["results"]] == [
            ("YARA-X", "malicious")
        ]
        assert {e["name"]: e["state"] for e in local["engines"]} == {
            "YARA-X": "answered",
            "ClamAV": "not_run",
            "VirusTotal": "waiting",
        }
        wait_for(api, owner, scan_id)
    assert not [d for _, d in theirs.events if d.get("scanId") == scan_id]


def test_a_failed_scan_sends_scan_error(
    server: LiveServer, api: Any, account: Account, vt: Any
) -> None:
    vt.set_offline(True)
    try:
        api.post(
            "/api/keys/", headers=account.headers, json={"name": "stale", "key_value": "e" * 64}
        )
    finally:
        vt.set_offline(False)
    with listening(server, account.access_token) as mine:
        body = upload(api, account, unique_content())
        error = mine.wait_for("scan:error", body["scan"]["scan_id"])
    assert error == {
        "scanId": body["scan"]["scan_id"],
        "kind": "malware",
        "error": "VirusTotal refused the API key (WrongCredentialsError)",
    }
