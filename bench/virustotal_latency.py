"""Time from upload to verdict against the VirusTotal stand-in, premium and free keys.

A server (in this process, SQLite, 4 workers) and the stand-in run with every VirusTotal
time scaled by --scale (0.1: a "minute" of 6 s, the first poll 1 s after the upload, then
every 2 s): the figures are printed both as measured and divided by the scale (what they
would be in real time). The stand-in completes an analysis at its third poll, so an
unknown file's verdict cannot come before first poll + 2 polls (the floor printed beside).

Scenarios, for a premium key (30,000 requests an hour, as GET /users/{key} says) and a
free one (4 a minute): one unknown file; four unknown files at once; one file VirusTotal
already knows. Then, on the premium key, eight scans whose VirusTotal answers take 5 s
each and a scan by another user with no key: how long the local-only scan takes.

Prints numbers, never fails. Run with `make bench-virustotal`.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.live import live_server
from tests.vtstub import start_stub

from veriscan.core.config import Settings

PREMIUM = {"per_minute": None, "per_hour": 30_000, "per_day": None, "kind": "premium"}
FREE = {"per_minute": 4, "per_day": 500}


def account(client: httpx.Client, name: str) -> dict[str, str]:
    password = "bench-" + secrets.token_hex(8)
    client.post(
        "/api/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": password},
    )
    token = client.post("/api/auth/login", json={"username": name, "password": password})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def verdict_times(
    client: httpx.Client, headers: dict[str, str], contents: list[bytes]
) -> list[float]:
    """Seconds from each upload's answer to its scan's completion (status polled every 20 ms)."""

    def one(content: bytes) -> float:
        body = client.post(
            "/api/files/upload", headers=headers, files={"file": ("f.bin", content)}
        ).json()
        started = time.monotonic()
        scan_id = body["scan"]["scan_id"]
        while True:
            status = client.get(f"/api/scan/{scan_id}/status", headers=headers).json()
            if status["status"] in ("completed", "failed"):
                assert status["status"] == "completed", status
                return time.monotonic() - started
            time.sleep(0.02)

    with ThreadPoolExecutor(max_workers=len(contents)) as pool:
        return list(pool.map(one, contents))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.1)
    args = parser.parse_args()
    scale = args.scale
    minute = 60.0 * scale
    with start_stub(minute_seconds=minute, polls_until_complete=2) as stub:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(tempfile.mkdtemp(prefix="veriscan-vt-bench-")),
            virustotal_url=stub.url,
            virustotal_minute_seconds=minute,
            # Not scaled: quota windows are whole seconds, and the margin keeps a request
            # sent at a window's edge out of the stand-in's previous window.
            virustotal_quota_margin_seconds=1.0,
            virustotal_first_poll_seconds=10.0 * scale,
            virustotal_poll_seconds=20.0 * scale,
            virustotal_poll_max_seconds=300.0 * scale,
            virustotal_retry_seconds=5.0 * scale,
            virustotal_retry_max_seconds=60.0 * scale,
            rate_limit="0",
            log_level="WARNING",
            workers=4,
            password_hash_memory_kib=1024,
            password_hash_time_cost=1,
        )
        floor = (10.0 + 2 * 20.0) * scale
        print(f"time scale {scale:g}: a VirusTotal minute lasts {minute:g} s here")
        print(
            f"floor for an unknown file (first poll + 2 polls): {floor:.2f} s "
            f"= {floor / scale:.0f} s real"
        )
        with live_server(settings) as live, httpx.Client(base_url=live.url, timeout=60) as client:
            for kind, limits in (("premium", PREMIUM), ("free", FREE)):
                headers = account(client, f"bench{kind}")
                value = secrets.token_hex(32)
                stub.add_key(value, **limits)
                client.post(
                    "/api/keys/", headers=headers, json={"name": kind, "key_value": value}
                ).raise_for_status()
                time.sleep(minute)  # a fresh minute for each key's scenarios
                for label, contents in (
                    ("1 unknown file", [secrets.token_bytes(64)]),
                    ("4 unknown files at once", [secrets.token_bytes(64) for _ in range(4)]),
                    ("1 known file", [known(stub)]),
                ):
                    times = verdict_times(client, headers, contents)
                    report(kind, label, times, scale)
                    time.sleep(minute)
            held(client, stub, scale)
        print(f"429 answers from the stand-in: {stub.quota_violations}")


def known(stub: Any) -> bytes:
    content = secrets.token_bytes(64)
    stub.preload(content)
    return content


def report(kind: str, label: str, times: list[float], scale: float) -> None:
    median, worst = statistics.median(times), max(times)
    print(
        f"{kind:8s} {label:24s} median {median:6.2f} s, max {worst:6.2f} s"
        f"  (real time: median {median / scale:5.0f} s, max {worst / scale:5.0f} s)"
    )


def held(client: httpx.Client, stub: Any, scale: float) -> None:
    """Eight scans with slow VirusTotal answers, then a local-only scan of another user."""
    waiting = account(client, "benchwait")
    value = secrets.token_hex(32)
    stub.add_key(value, **PREMIUM)
    client.post("/api/keys/", headers=waiting, json={"name": "slow", "key_value": value})
    stub.latency = 5.0
    try:
        slow = [
            client.post(
                "/api/files/upload",
                headers=waiting,
                files={"file": ("slow.bin", secrets.token_bytes(64))},
            ).json()["scan"]["scan_id"]
            for _ in range(8)
        ]
        time.sleep(1.0)  # all eight lookups are out
        alone = account(client, "benchlocal")
        [seconds] = verdict_times(client, alone, [secrets.token_bytes(64)])
    finally:
        stub.latency = 0.0
    for scan_id in slow:  # let them finish before the stand-in stops
        while client.get(f"/api/scan/{scan_id}/status", headers=waiting).json()["status"] in (
            "pending",
            "scanning",
        ):
            time.sleep(0.1)
    print(f"local-only scan while 8 scans wait on a slow VirusTotal (5 s answers): {seconds:.3f} s")


if __name__ == "__main__":
    main()
