"""socket.io on the service's port: who may connect, and how events reach them.

The server is python-socketio's AsyncServer (the protocol of the JavaScript
socket.io-client). A connection must present a valid access token in `auth.token`.
Each connection joins `user:<id>`, and analysts and admins also join `staff`.

Events are published from anywhere: a request handler, a worker thread of this process
(handed to the server's event loop), or another process (through Redis, when configured,
with a write-only manager, so the event reaches a client connected to any server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import socketio

logger = logging.getLogger("veriscan.realtime")

STAFF_ROOM = "staff"


def user_room(user_id: object) -> str:
    return f"user:{user_id}"


class Identity:
    def __init__(self, user_id: str, role: str) -> None:
        self.user_id = user_id
        self.role = role


def origin_check(allowed: list[str]) -> Callable[[str, dict[str, Any]], bool]:
    """socket.io's origin check: the server's own origin (the dashboard) and the configured
    ones. (python-socketio's `cors_allowed_origins=[]` would turn the check off.)"""
    configured = {origin.rstrip("/") for origin in allowed}

    def check(origin: str, environ: dict[str, Any]) -> bool:
        if origin in configured:
            return True
        host = environ.get("HTTP_HOST")
        if not host:
            return False
        own = {f"{environ.get('wsgi.url_scheme', 'http')}://{host}"}
        forwarded = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("HTTP_X_FORWARDED_HOST")
        if forwarded:
            scheme = environ.get("HTTP_X_FORWARDED_PROTO", "http").split(",")[0].strip()
            forwarded_host = environ.get("HTTP_X_FORWARDED_HOST", host).split(",")[0].strip()
            own.add(f"{scheme}://{forwarded_host}")
        return origin in own

    return check


class Realtime:
    def __init__(
        self, redis_url: str, namespace: str = "veriscan", cors_origins: list[str] | None = None
    ) -> None:
        # The pub/sub channel is the deployment's own, so deployments can share a Redis.
        channel = f"{namespace}-socketio"
        manager = socketio.AsyncRedisManager(redis_url, channel=channel) if redis_url else None
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=manager,
            cors_allowed_origins=origin_check(cors_origins or []),
            logger=False,
            engineio_logger=False,
        )
        self._authenticate: Callable[[str], Identity | None] = lambda _: None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()
        self._redis_publisher = (
            socketio.RedisManager(redis_url, channel=channel, write_only=True)
            if redis_url
            else None
        )
        self.sio.on("connect", self._on_connect)

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        identity = (
            await asyncio.to_thread(self._authenticate, token) if isinstance(token, str) else None
        )
        if identity is None:
            raise socketio.exceptions.ConnectionRefusedError(
                "unauthorized: a valid access token is required"
            )
        await self.sio.enter_room(sid, user_room(identity.user_id))
        if identity.role in ("admin", "analyst"):
            await self.sio.enter_room(sid, STAFF_ROOM)
        logger.info("realtime.connected user_id=%s", identity.user_id)

    def set_authenticator(self, authenticate: Callable[[str], Identity | None]) -> None:
        """Who a token belongs to (None: refuse). The composition root wires auth in."""
        self._authenticate = authenticate

    def close(self) -> None:
        # The publisher connects on its first emit: a server that never sent one has none.
        connection = getattr(self._redis_publisher, "redis", None)
        if connection is not None:
            connection.close()

    async def aclose(self) -> None:
        """Stop the socket.io Redis listener and close its connections (at shutdown).

        python-socketio leaves them to the event loop's end, and a listener whose
        connection closes under it reconnects; so the task is cancelled first.
        """
        with self._loop_lock:
            # From now on events from worker threads are dropped rather than handed to a
            # loop about to stop, which would never run them ("never awaited").
            self._loop = None
        manager = self.sio.manager
        listener = getattr(manager, "thread", None)
        if isinstance(listener, asyncio.Future) and not listener.done():
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
        for name in ("pubsub", "redis"):
            connection = getattr(manager, name, None)
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.aclose()

    def asgi(self, app: Any) -> socketio.ASGIApp:
        return socketio.ASGIApp(self.sio, other_asgi_app=app, socketio_path="socket.io")

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._loop_lock:
            self._loop = loop

    def publish(self, event: str, data: dict[str, Any], rooms: list[str]) -> None:
        """Send an event to rooms; callable from any thread of any process."""
        try:
            # One emit to all the rooms: a client in several of them hears it once.
            if self._redis_publisher is not None:
                self._redis_publisher.emit(event, data, room=rooms)
                return
            with self._loop_lock:
                loop = self._loop
                if loop is None or loop.is_closed():
                    return  # no server in this process and no Redis: nobody to tell
                emit = self.sio.emit(event, data, to=rooms)
                try:
                    future = asyncio.run_coroutine_threadsafe(emit, loop)
                except RuntimeError:  # the loop closed meanwhile
                    emit.close()
                    return
            future.add_done_callback(_log_failure)
        except Exception:  # an event lost must never fail the scan that sent it
            logger.warning("realtime.publish_failed event=%s", event, exc_info=True)


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("realtime.emit_failed", exc_info=future.exception())
