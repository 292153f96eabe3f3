"""What the benchmarks share: a real `veriscan serve` process, its CPU and memory as the
kernel counts them, and a fresh PostgreSQL database for a run."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

PASSWORD_SUFFIX = "-password"  # noqa: S105 - accounts made for a run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_kib(pid: int, field: str) -> int:
    """A field of /proc/PID/status in KiB: VmRSS, VmHWM, RssAnon..."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process, all of its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int) -> None:
    """Reset VmHWM to the current RSS (writing 5 to clear_refs), so that a peak read
    afterwards covers what came after only."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def server_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment without any VERISCAN_ setting of its own, plus `extra`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("VERISCAN_")}, **extra}


def start_server(extra: dict[str, str], port: int, *, username: str) -> subprocess.Popen[bytes]:
    """`veriscan user create` (which migrates the database), then `veriscan serve` on
    `port`, waited for until /health answers. The user's password is username-password."""
    env = server_env(extra)
    veriscan = [sys.executable, "-m", "veriscan"]
    subprocess.run(
        [
            *veriscan,
            "user",
            "create",
            "--username",
            username,
            "--email",
            f"{username}@example.com",
            "--password",
            username + PASSWORD_SUFFIX,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [*veriscan, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError("the server did not start")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=30)


def login(base: str, username: str) -> str:
    """An access token for a user made by start_server."""
    answer = httpx.post(
        f"{base}/api/auth/login",
        json={"username": username, "password": username + PASSWORD_SUFFIX},
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def new_pg_database(base: str) -> tuple[str, str]:
    """A new, empty database on the server of `base`: (its name, its URL)."""
    name = f"veriscan_bench_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, base.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(base: str, name: str) -> None:
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_reachable(base: str) -> bool:
    """Whether the PostgreSQL server of `base` answers; says so when it does not."""
    try:
        with psycopg.connect(base, connect_timeout=3):
            return True
    except psycopg.Error as exc:
        print(f"PostgreSQL at {base} is not reachable ({type(exc).__name__}): its runs skipped")
        return False


# Rows for bulk inserts: stored files and finished scans, as the service would leave them.


def job_columns(created: datetime) -> dict[str, Any]:
    """The columns every finished job row has (a scan of either kind)."""
    return {
        "error": None,
        "progress": 100,
        "stage": "done",
        "started_at": created + timedelta(seconds=1),
        "completed_at": created + timedelta(seconds=20),
        "lease_until": None,
        "claim_token": None,
        "attempts": 1,
        "deadline_at": created + timedelta(hours=6),
        "created_at": created,
        "batch_id": None,
    }


def file_row(
    file_id: uuid.UUID, user_id: uuid.UUID, sha256: str, filename: str, created: datetime
) -> dict[str, Any]:
    return {
        "id": file_id,
        "user_id": user_id,
        "filename": filename,
        "file_size": 4096,
        "mime_type": "application/octet-stream",
        "hash_md5": sha256[:32],
        "hash_sha1": sha256[:40],
        "hash_sha256": sha256,
        "upload_date": created,
    }


def malware_scan_row(
    scan_id: uuid.UUID,
    user_id: uuid.UUID,
    file_id: uuid.UUID,
    sha256: str,
    created: datetime,
    *,
    malicious: int,
    engines: int,
) -> dict[str, Any]:
    """A completed scan whose `engines` engines answered, `malicious` of them so."""
    return {
        "id": scan_id,
        "user_id": user_id,
        "file_id": file_id,
        "api_key_id": None,
        "sha256": sha256,
        "engines": ["YARA-X"],
        "rescan": False,
        "status": "completed",
        "malicious": malicious,
        "suspicious": 0,
        "undetected": engines - malicious,
        "harmless": 0,
        "timeout": 0,
        "failure": 0,
        "type_unsupported": 0,
        "with_verdict": engines,
        "vt_analysis_id": None,
        **job_columns(created),
    }
