from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.engines.conftest import Clamd
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
from veriscan.engines.base import Category, EngineFailed, EngineVerdict
from veriscan.engines.clamav import ClamAVEngine

# clamd appends this to the names of signatures that are not from the official database.
UNOFFICIAL = ".UNOFFICIAL"


@pytest.fixture
def engine(clamd: Clamd) -> ClamAVEngine:
    return ClamAVEngine(str(clamd.socket), timeout=10)


def test_clean_file_is_undetected(engine: ClamAVEngine, make_sample: MakeSample) -> None:
    version = engine.version()

    verdicts = engine.scan_file(make_sample(b"Quarterly report\n\nNothing to see here.\n"))

    assert verdicts == [EngineVerdict("ClamAV", version, Category.UNDETECTED, "clean", None)]


def test_hash_signature_match_is_malicious(engine: ClamAVEngine, make_sample: MakeSample) -> None:
    [verdict] = engine.scan_file(make_sample(HDB_SAMPLE))

    assert (verdict.category, verdict.result) == (Category.MALICIOUS, HDB_NAME + UNOFFICIAL)


def test_body_signature_match_is_malicious(engine: ClamAVEngine, make_sample: MakeSample) -> None:
    [verdict] = engine.scan_file(make_sample(b"MZ\x90\x00 header " + NDB_MARKER + b" trailer"))

    assert (verdict.category, verdict.result) == (Category.MALICIOUS, NDB_NAME + UNOFFICIAL)


def test_heuristic_alert_is_suspicious(engine: ClamAVEngine, make_sample: MakeSample) -> None:
    [verdict] = engine.scan_file(make_sample(b"text " + HEURISTIC_MARKER))

    assert (verdict.category, verdict.result) == (
        Category.SUSPICIOUS,
        HEURISTIC_NAME + UNOFFICIAL,
    )


# Small chunks: clamd refuses mid-stream and the engine notices before sending more.
# A chunk larger than the limit: clamd hangs up while the engine is still sending.
@pytest.mark.parametrize("chunk_size", [64 * 1024, 4 * STREAM_MAX_LENGTH])
def test_file_over_stream_limit_is_type_unsupported(
    clamd: Clamd, make_sample: MakeSample, chunk_size: int
) -> None:
    engine = ClamAVEngine(str(clamd.socket), timeout=10, chunk_size=chunk_size)
    # The marker past the limit must not be what decides: clamd never sees it.
    sample = make_sample(b"\0" * (3 * STREAM_MAX_LENGTH) + NDB_MARKER)

    [verdict] = engine.scan_file(sample)

    assert (verdict.category, verdict.result) == (Category.TYPE_UNSUPPORTED, "type-unsupported")


def test_file_just_under_stream_limit_is_scanned(
    engine: ClamAVEngine, make_sample: MakeSample
) -> None:
    body = b"\0" * (STREAM_MAX_LENGTH - len(NDB_MARKER)) + NDB_MARKER

    [verdict] = engine.scan_file(make_sample(body))

    assert (verdict.category, verdict.result) == (Category.MALICIOUS, NDB_NAME + UNOFFICIAL)


def test_tcp_socket_scans_the_same(clamd: Clamd, make_sample: MakeSample) -> None:
    engine = ClamAVEngine(clamd.tcp, timeout=10)

    [hit] = engine.scan_file(make_sample(HDB_SAMPLE, "hit.bin"))
    [too_big] = engine.scan_file(make_sample(b"\0" * (2 * STREAM_MAX_LENGTH), "big.bin"))

    assert (hit.category, hit.result) == (Category.MALICIOUS, HDB_NAME + UNOFFICIAL)
    assert too_big.category == Category.TYPE_UNSUPPORTED


def test_version_names_clamav(engine: ClamAVEngine) -> None:
    # The test database has no daily.cvd, so clamd gives no database version or date.
    assert re.fullmatch(r"ClamAV \d+\.\d+\.\d+", engine.version())


def test_available_answers_ping(engine: ClamAVEngine, tmp_path: Path) -> None:
    assert engine.available() is True
    assert ClamAVEngine(str(tmp_path / "no-clamd.sock")).available() is False


def test_run_gives_an_engine_report(engine: ClamAVEngine, make_sample: MakeSample) -> None:
    report = asyncio.run(engine.run(make_sample(HDB_SAMPLE)))

    assert (report.engine, report.version, report.error) == ("ClamAV", engine.version(), None)
    assert [(v.category, v.result) for v in report.verdicts] == [
        (Category.MALICIOUS, HDB_NAME + UNOFFICIAL)
    ]


def test_dead_socket_is_a_retryable_error(tmp_path: Path, make_sample: MakeSample) -> None:
    socket_path = tmp_path / "no-clamd.sock"
    engine = ClamAVEngine(str(socket_path))

    report = asyncio.run(engine.run(make_sample(b"anything")))

    assert report.verdicts == []
    assert report.retryable is True
    assert report.error is not None
    assert report.error.startswith(f"clamd at {socket_path} unreachable")


def test_closed_tcp_port_is_a_retryable_error(make_sample: MakeSample) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = ClamAVEngine(f"tcp://127.0.0.1:{port}")

    report = asyncio.run(engine.run(make_sample(b"anything")))

    assert (report.verdicts, report.retryable) == ([], True)


def test_missing_sample_is_a_fatal_error(engine: ClamAVEngine, make_sample: MakeSample) -> None:
    sample = make_sample(b"gone")
    sample.path.unlink()

    with pytest.raises(EngineFailed, match="cannot read the sample") as failed:
        engine.scan_file(sample)

    assert failed.value.retryable is False


@pytest.mark.parametrize("spec", ["", "unix://", "tcp://clamd", "tcp://:3310"])
def test_bad_socket_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        ClamAVEngine(spec)


# A clamd whose database has a daily.cvd answers VERSION with the database's number and
# date. A signed daily.cvd cannot be made here, so a stand-in gives that answer.
DATED_VERSION = "ClamAV 1.4.6/27500/Tue Jan 14 09:37:01 2025"


@pytest.fixture
def dated_clamd(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "dated.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen()
        server.settimeout(0.05)
        stop = threading.Event()
        thread = threading.Thread(target=_serve_dated, args=(server, stop))
        thread.start()
        yield path
        stop.set()
        thread.join()


def _serve_dated(server: socket.socket, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        with conn, contextlib.suppress(OSError):
            command = _read_until_nul(conn)
            if command == b"zVERSION":
                conn.sendall(DATED_VERSION.encode() + b"\0")
            elif command == b"zINSTREAM":
                while length := struct.unpack("!I", _read_exactly(conn, 4))[0]:
                    _read_exactly(conn, length)
                conn.sendall(b"stream: OK\0")


def _read_until_nul(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\0"):
        data += _recv(conn, 1)
    return data[:-1]


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += _recv(conn, size - len(data))
    return data


def _recv(conn: socket.socket, size: int) -> bytes:
    block = conn.recv(size)
    if not block:
        raise ConnectionResetError("client hung up")
    return block


def test_database_date_is_the_update_date(dated_clamd: Path, make_sample: MakeSample) -> None:
    engine = ClamAVEngine(str(dated_clamd), timeout=5)

    version = engine.version()
    [verdict] = engine.scan_file(make_sample(b"clean"))

    assert version == DATED_VERSION
    # clamd prints its local time; this machine's local time, read back as UTC.
    expected = datetime(2025, 1, 14, 9, 37, 1).astimezone(UTC)
    assert verdict == EngineVerdict("ClamAV", DATED_VERSION, Category.UNDETECTED, "clean", expected)
