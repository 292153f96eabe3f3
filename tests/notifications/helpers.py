"""A socket.io client recording notification:new, and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import socketio
from aiosmtpd.controller import Controller

from tests.conftest import Account
from tests.live import LiveServer


class NotificationListener:
    def __init__(self) -> None:
        self.client = socketio.Client(reconnection=False)
        self.received: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self.client.on("notification:new", self._record)

    def _record(self, data: dict[str, Any]) -> None:
        with self._changed:
            self.received.append(data)
            self._changed.notify_all()

    def wait_for(self, scan_id: str, timeout: float = 15.0) -> dict[str, Any]:
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((d for d in self.received if d.get("scanId") == scan_id), None),
                timeout,
            )
        assert found, f"no notification:new for {scan_id}; got {self.received}"
        return dict(found)


@contextmanager
def listening(server: LiveServer, token: str) -> Iterator[NotificationListener]:
    listener = NotificationListener()
    listener.client.connect(
        server.url, auth={"token": token}, transports=["websocket"], wait_timeout=10
    )
    try:
        yield listener
    finally:
        listener.client.disconnect()


class Mailbox:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"{len(self.messages)} messages, not {count}"
            time.sleep(0.05)
        return list(self.messages)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def notifications(api: httpx.Client, account: Account, **params: Any) -> dict[str, Any]:
    response = api.get("/api/notifications", headers=account.headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def set_preferences(api: httpx.Client, account: Account, **values: Any) -> dict[str, Any]:
    response = api.put("/api/notifications/preferences", headers=account.headers, json=values)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
