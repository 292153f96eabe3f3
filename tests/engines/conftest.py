"""Engine fixtures: samples with their hashes, and a real clamd.

The official ClamAV database cannot be downloaded here, so clamd gets a database
written by this file: a hash signature (.hdb) for HDB_SAMPLE and body signatures (.ndb)
for two markers. clamd with so small a database starts in well under a second.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engines.samples import (
    HDB_NAME,
    HDB_SAMPLE,
    HEURISTIC_MARKER,
    HEURISTIC_NAME,
    NDB_MARKER,
    NDB_NAME,
    STREAM_MAX_LENGTH,
    MakeSample,
)
from veriscan.engines.base import Sample

CLAMD_START_TIMEOUT = 30.0


@pytest.fixture
def make_sample(tmp_path: Path) -> MakeSample:
    """Writes `content` to a file and returns it as a Sample with its real hashes."""

    def make(content: bytes, name: str = "sample.bin") -> Sample:
        path = tmp_path / name
        path.write_bytes(content)
        return Sample(
            path=path,
            sha256=hashlib.sha256(content).hexdigest(),
            sha1=hashlib.sha1(content).hexdigest(),
            md5=hashlib.md5(content).hexdigest(),
            size=len(content),
            filename=name,
        )

    return make


@dataclass(frozen=True)
class Clamd:
    socket: Path
    tcp: str  # tcp://127.0.0.1:port, the same daemon
    log: Path
    # From launch to the first PONG.
    started_in: float


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    binary = shutil.which("clamd") or shutil.which("clamd", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        pytest.fail("clamd not found: install clamav-daemon (scripts/system-deps.sh)")
    root = tmp_path_factory.mktemp("clamd")
    database = root / "db"
    database.mkdir()
    hdb_md5 = hashlib.md5(HDB_SAMPLE).hexdigest()
    (database / "veriscan.hdb").write_text(f"{hdb_md5}:{len(HDB_SAMPLE)}:{HDB_NAME}\n")
    (database / "veriscan.ndb").write_text(
        f"{NDB_NAME}:0:*:{NDB_MARKER.hex()}\n{HEURISTIC_NAME}:0:*:{HEURISTIC_MARKER.hex()}\n"
    )
    sock = root / "clamd.sock"
    port = _free_port()
    config = root / "clamd.conf"
    # No LogFile, no PidFile, no User: clamd stays in the foreground as whoever runs the
    # tests, logs to the pipe below and writes nothing outside `root`.
    config.write_text(
        "\n".join(
            [
                "Foreground yes",
                f"LocalSocket {sock}",
                "TCPAddr 127.0.0.1",
                f"TCPSocket {port}",
                f"DatabaseDirectory {database}",
                f"TemporaryDirectory {root}",
                f"StreamMaxLength {STREAM_MAX_LENGTH // 1024}K",
                "MaxThreads 4",
                # As docs/deploy.md recommends: past its unpacking limits clamd says so
                # (Heuristics.Limits.Exceeded.*, reported as suspicious) instead of "clean".
                "AlertExceedsMax yes",
                "LogTime no",
                "",
            ]
        )
    )
    log_path = root / "clamd.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, "--config-file", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_for_pong(sock, process, log_path)
            yield Clamd(
                socket=sock,
                tcp=f"tcp://127.0.0.1:{port}",
                log=log_path,
                started_in=time.monotonic() - started,
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_pong(sock: Path, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + CLAMD_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"clamd exited with {process.returncode} while starting:\n{log_path.read_text()}"
            )
        if sock.exists() and _ping(sock):
            return
        time.sleep(0.02)
    pytest.fail(
        f"clamd did not answer PING within {CLAMD_START_TIMEOUT:g}s:\n{log_path.read_text()}"
    )


def _ping(sock: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(1)
        try:
            client.connect(str(sock))
            client.sendall(b"zPING\0")
            return client.recv(16).startswith(b"PONG")
        except OSError:
            return False
