"""How long an accepted scan waits for an idle worker, on the SQLite queue and on Redis.

A server (in this process, 4 workers, no VirusTotal key: YARA-X only) receives one upload
every --gap seconds, so its workers are idle when each arrives. For every scan the wait is
its row's started_at (set when a worker claims it) minus created_at (set when the upload
was accepted): both written by the server's clock. Printed: median, 95th percentile and
most; and the server's CPU time while idle (what looking at the queue costs), over 5 s.

Prints numbers, never fails. Run with `make bench-pickup` (Redis when VERISCAN_TEST_REDIS_URL
or --redis-url is set).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.live import live_server

from veriscan.core.config import Settings
from veriscan.malware.models import MalwareScan


def measure(redis_url: str, uploads: int, gap: float) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=Path(tempfile.mkdtemp(prefix="veriscan-pickup-")),
        redis_url=redis_url,
        queue_name=f"veriscan-pickup-{secrets.token_hex(4)}",
        rate_limit="0",
        log_level="WARNING",
        workers=4,
        password_hash_memory_kib=1024,
        password_hash_time_cost=1,
    )
    with live_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        client.post(
            "/api/auth/register",
            json={"username": "pickup", "email": "p@example.com", "password": "pickup-password"},
        )
        token = client.post(
            "/api/auth/login", json={"username": "pickup", "password": "pickup-password"}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        time.sleep(1.0)
        idle_cpu = time.process_time()
        time.sleep(5.0)
        idle_cpu = time.process_time() - idle_cpu
        ids = []
        for _ in range(uploads):
            body = client.post(
                "/api/files/upload",
                headers=headers,
                files={"file": ("p.txt", secrets.token_bytes(64))},
            ).json()
            ids.append(uuid.UUID(body["scan"]["scan_id"]))
            time.sleep(gap)
        time.sleep(1.0)
        with live.context.db.session(writes=False) as session:
            waits = []
            for scan_id in ids:
                scan = session.get(MalwareScan, scan_id)
                assert scan is not None and scan.started_at is not None
                waits.append((scan.started_at - scan.created_at).total_seconds() * 1000)
    waits.sort()
    p95 = waits[max(0, round(0.95 * len(waits)) - 1)]
    backend = "redis" if redis_url else "sqlite"
    print(
        f"{backend:6s} queue: {uploads} uploads {gap:g} s apart: wait for a worker median "
        f"{statistics.median(waits):.1f} ms, p95 {p95:.1f} ms, most {waits[-1]:.1f} ms; "
        f"idle server CPU {idle_cpu / 5 * 100:.2f} % of a core"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=40)
    parser.add_argument("--gap", type=float, default=0.3)
    parser.add_argument("--redis-url", default=os.environ.get("VERISCAN_TEST_REDIS_URL", ""))
    args = parser.parse_args()
    measure("", args.uploads, args.gap)
    if args.redis_url:
        measure(args.redis_url, args.uploads, args.gap)


if __name__ == "__main__":
    main()
