"""Serve an ASGI app with uvicorn in a daemon thread on a loopback port."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp


class ServerThread:
    """One uvicorn server on ``host:port`` (``port=0``: a free one, kept for restarts).

    ``stop()`` closes the listening socket, so the address refuses connections until the
    next ``start()``, which listens on the same port again.
    """

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Lets a restart bind the port again while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",  # no websockets import: its deprecation warnings would fail the tests
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        # server.run() lets uvicorn choose the event loop (uvloop when installed): on the
        # plain asyncio loop every request on a kept-alive connection stalls ~40 ms here.
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            daemon=True,
            name=f"vtstub-{self.port}",
        )
        self._server, self._thread, self._sock = server, thread, sock
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the VirusTotal stand-in did not start on port {self.port}")
            time.sleep(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        server, thread, sock = self._server, self._thread, self._sock
        self._server = self._thread = self._sock = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=timeout)
        if sock is not None:
            sock.close()  # uvicorn closed it already on a clean exit; closing twice is harmless
