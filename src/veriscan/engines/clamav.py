"""ClamAV engine: asks a running clamd, over its socket, with the INSTREAM command.

The sample is streamed from disk in chunks, so clamd may run elsewhere (another
container, another user) without access to the blob store, and Veriscan never holds a
sample in memory. Every command uses the `z` prefix: replies end with a NUL byte.

Outcomes:
- `stream: OK`: undetected.
- `stream: <name> FOUND`: malicious, or suspicious for clamd's own `Heuristics.*` alerts
  (encrypted archives, phishing heuristics, macros...), which flag a property of the
  file rather than known malware.
- `INSTREAM size limit exceeded`: the file is larger than clamd's StreamMaxLength. This
  is reported as `type-unsupported`, as VirusTotal does for files an engine will not
  scan: it is a lasting answer about this file and this clamd (retrying cannot help), it
  is not a verdict (not counted in the detection ratio), and unlike an error it can be
  cached, so a large file is not streamed again on every scan.
- clamd unreachable or hanging up: `EngineFailed(retryable=True)`.
"""

from __future__ import annotations

import select
import socket
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, ClassVar
from urllib.parse import urlsplit

from veriscan.engines.base import (
    Category,
    EngineFailed,
    EngineVerdict,
    LocalEngine,
    Sample,
    clean_result,
)

CHUNK_SIZE = 64 * 1024
# clamd's answers are one line; anything longer is not clamd.
MAX_REPLY = 64 * 1024
_END_OF_STREAM = struct.pack("!I", 0)
_SIZE_LIMIT = "INSTREAM size limit exceeded"


@dataclass(frozen=True)
class ClamdVersion:
    text: str  # "ClamAV 1.4.6/27500/Tue Jan 14 09:37:01 2025"
    update_date: datetime | None


class ClamAVEngine(LocalEngine):
    name: ClassVar[str] = "ClamAV"

    def __init__(
        self,
        socket_spec: str,
        *,
        timeout: float | None = None,
        connect_timeout: float = 5.0,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        """`socket_spec` is a Unix socket path (or `unix:///path`), or `tcp://host:port`."""
        self.socket_spec = socket_spec
        self._address = _parse_socket_spec(socket_spec)
        if timeout is not None:
            self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.chunk_size = chunk_size
        self._last_version: ClamdVersion | None = None

    def available(self) -> bool:
        try:
            return self._command("PING") == "PONG"
        except EngineFailed:
            return False

    def version(self) -> str:
        return self._query_version().text

    def scan_file(self, sample: Sample) -> list[EngineVerdict]:
        # run() asked for the version just before: reuse it rather than ask again.
        version = self._last_version or self._query_version()
        try:
            stream = sample.path.open("rb")
        except OSError as exc:
            raise EngineFailed(f"cannot read the sample: {exc}") from exc
        with stream:
            reply = self._instream(stream)
        category, detection = _parse_scan_reply(reply)
        return [
            EngineVerdict(
                engine_name=self.name,
                engine_version=version.text,
                category=category,
                result=clean_result(category, detection),
                update_date=version.update_date,
            )
        ]

    def _query_version(self) -> ClamdVersion:
        version = _parse_version(self._command("VERSION"))
        self._last_version = version
        return version

    def _command(self, command: str) -> str:
        with self._connect() as sock:
            try:
                sock.sendall(b"z" + command.encode() + b"\0")
                return _read_reply(sock)
            except OSError as exc:  # TimeoutError included: a daemon that will not answer
                raise self._unreachable(exc) from exc

    def _instream(self, stream: BinaryIO) -> str:
        with self._connect() as sock:
            try:
                sock.sendall(b"zINSTREAM\0")
                self._send_chunks(sock, stream)
                return _read_reply(sock)
            except TimeoutError:
                raise  # clamd is slow on this file: the base class reports a timeout
            except OSError as exc:
                # Past StreamMaxLength clamd answers and hangs up while we are still
                # sending: its answer may be waiting even though the send failed.
                early = _try_read_reply(sock)
                if early is not None:
                    return early
                raise self._unreachable(exc) from exc

    def _send_chunks(self, sock: socket.socket, stream: BinaryIO) -> None:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        while chunk := stream.read(self.chunk_size):
            sock.sendall(struct.pack("!I", len(chunk)) + chunk)
            # clamd only speaks mid-stream to refuse the rest (size limit): stop sending.
            if poller.poll(0):
                return
        sock.sendall(_END_OF_STREAM)

    def _connect(self) -> socket.socket:
        try:
            if isinstance(self._address, tuple):
                sock = socket.create_connection(self._address, timeout=self.connect_timeout)
            else:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(self.connect_timeout)
                    sock.connect(self._address)
                except OSError:
                    sock.close()
                    raise
        except OSError as exc:
            raise self._unreachable(exc) from exc
        sock.settimeout(self.timeout)
        return sock

    def _unreachable(self, exc: OSError) -> EngineFailed:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return EngineFailed(f"clamd at {self.socket_spec} unreachable: {reason}", retryable=True)


def _parse_socket_spec(spec: str) -> str | tuple[str, int]:
    """A Unix socket path, or (host, port) for tcp://host:port."""
    if spec.startswith("tcp://"):
        parts = urlsplit(spec)
        if not parts.hostname or parts.port is None:
            raise ValueError(f"ClamAV socket {spec!r}: expected tcp://host:port")
        return parts.hostname, parts.port
    path = spec.removeprefix("unix://")
    if not path:
        raise ValueError("ClamAV socket: expected a Unix socket path or tcp://host:port")
    return path


def _read_reply(sock: socket.socket) -> str:
    data = b""
    while b"\0" not in data:
        block = sock.recv(4096)
        if not block:
            break
        data += block
        if len(data) > MAX_REPLY:
            raise EngineFailed("clamd sent an oversized reply")
    reply = data.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    if not reply:
        raise ConnectionResetError("clamd closed the connection without answering")
    return reply


def _try_read_reply(sock: socket.socket) -> str | None:
    try:
        return _read_reply(sock)
    except OSError:
        return None


def _parse_scan_reply(reply: str) -> tuple[Category, str | None]:
    if _SIZE_LIMIT in reply:
        return Category.TYPE_UNSUPPORTED, None
    # Without IDSESSION the reply is "stream: ...", with no request number in front.
    body = reply.removeprefix("stream:").strip()
    if body == "OK":
        return Category.UNDETECTED, None
    if body.endswith(" FOUND"):
        name = body.removesuffix(" FOUND").strip()
        if name.startswith("Heuristics."):
            return Category.SUSPICIOUS, name
        return Category.MALICIOUS, name
    if body.endswith(" ERROR"):
        raise EngineFailed(f"clamd could not scan the file: {body.removesuffix(' ERROR')}")
    raise EngineFailed(f"unexpected clamd reply: {reply[:200]!r}")


def _parse_version(reply: str) -> ClamdVersion:
    """Reads `ClamAV 1.4.6/27500/Tue Jan 14 09:37:01 2025`, or just `ClamAV 1.4.6` when
    clamd has no daily database (custom signatures only)."""
    if not reply.startswith("ClamAV "):
        raise EngineFailed(f"unexpected clamd VERSION reply: {reply[:200]!r}")
    parts = reply.split("/", 2)
    update_date = None
    if len(parts) == 3:
        try:
            built = datetime.strptime(parts[2].strip(), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            pass
        else:
            # clamd prints the database date with ctime(): the daemon's local time, with no
            # zone. Read it as this machine's local time (clamd usually runs beside us).
            update_date = built.astimezone(UTC)
    return ClamdVersion(reply, update_date)
