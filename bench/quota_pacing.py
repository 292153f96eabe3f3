"""VirusTotal quota pacing in real time: a free key (4 requests a minute) over real minutes.

The tests check quota behaviour with one-second "minutes"; this runs the real thing: a
`veriscan serve` process, the VirusTotal stand-in with 60-second windows, one free key,
and a few uploads whose scans need more requests than one minute allows. It prints when
each request reached "VirusTotal", the most requests seen in any 60-second window, and
the 429s (there should be none). Prints numbers, never fails. Takes a few minutes.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.vtstub import start_stub


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=3)
    args = parser.parse_args()
    with start_stub(minute_seconds=60.0, polls_until_complete=1) as stub:
        key = secrets.token_hex(32)
        stub.add_key(key, per_minute=4, per_day=500)
        data_dir = Path(tempfile.mkdtemp(prefix="veriscan-quota-"))
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VERISCAN_")},
            "VERISCAN_DATA_DIR": str(data_dir),
            "VERISCAN_VIRUSTOTAL_URL": stub.url,
            "VERISCAN_RATE_LIMIT": "0",
            "VERISCAN_LOG_LEVEL": "WARNING",
            "VERISCAN_YARA_ENABLED": "false",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "veriscan", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            httpx.post(
                f"{base}/api/auth/register",
                json={"username": "quota", "email": "q@example.com", "password": "q-password"},
            )
            token = httpx.post(
                f"{base}/api/auth/login", json={"username": "quota", "password": "q-password"}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            httpx.post(
                f"{base}/api/keys/", headers=headers, json={"name": "free", "key_value": key}
            )
            started = time.monotonic()
            scan_ids = []
            for i in range(args.files):
                body = httpx.post(
                    f"{base}/api/files/upload",
                    headers=headers,
                    files={"file": (f"f{i}.txt", secrets.token_bytes(64))},
                ).json()
                scan_ids.append(body["scan"]["scan_id"])
            pending = set(scan_ids)
            while pending and time.monotonic() - started < 900:
                for scan_id in list(pending):
                    status = httpx.get(f"{base}/api/scan/{scan_id}/status", headers=headers).json()[
                        "status"
                    ]
                    if status in ("completed", "failed"):
                        pending.discard(scan_id)
                time.sleep(2)
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
        times = sorted(t for t in stub.request_times(key))
        most = max((sum(1 for u in times if t <= u < t + 60) for t in times), default=0)
        print(f"files: {args.files}, all finished: {not pending}, in {elapsed:.0f} s")
        print(
            f"requests to VirusTotal with the key: {len(times)} "
            f"({len(times) / (elapsed / 60):.2f} a minute on average)"
        )
        print(f"most requests in any 60 s window: {most} (the key allows 4)")
        print(f"429 answers: {stub.quota_violations}")
        offsets = ", ".join(f"{t - times[0]:.1f}" for t in times)
        print(f"request times (s after the first): {offsets}")


if __name__ == "__main__":
    main()
