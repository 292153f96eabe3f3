"""Upload a large file through the API and compare with `md5sum` of the same file.

Prints numbers and never fails. Run with `make bench` (or `python bench/upload_throughput.py
--size-mb 1024`). The server is a real `veriscan serve` process; the client is curl, so
the Python client's own cost does not count against the server. Peak memory is the
server's VmHWM (the kernel's high-water mark of resident memory), read before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int) -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS, so the peak measured is
    # that of the uploads alone (login's Argon2 hashing briefly takes 64 MB by design).
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def make_file(path: Path, size_mb: int) -> None:
    if path.exists() and path.stat().st_size == size_mb * 1024 * 1024:
        return
    block = os.urandom(1024 * 1024)
    with path.open("wb") as handle:
        for i in range(size_mb):
            # Vary each block so that nothing downstream can shortcut repeated content.
            handle.write(hashlib.sha256(i.to_bytes(8, "big")).digest() + block[32:])


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "veriscan-bench"
    )
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    sample = args.workdir / f"sample-{args.size_mb}mb.bin"
    make_file(sample, args.size_mb)
    size = sample.stat().st_size
    subprocess.run(
        ["cat", str(sample)], stdout=subprocess.DEVNULL, check=True
    )  # warm the page cache

    md5_times = [timed(["md5sum", str(sample)])[0] for _ in range(args.runs)]

    data_dir = Path(tempfile.mkdtemp(dir=args.workdir, prefix="data-"))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VERISCAN_")},
        "VERISCAN_DATA_DIR": str(data_dir),
        "VERISCAN_RATE_LIMIT": "0",
        "VERISCAN_MAX_UPLOAD_MB": str(args.size_mb + 1),
        "VERISCAN_LOG_LEVEL": "WARNING",
        # Measure the upload alone: no engine, so no scan starts behind it.
        "VERISCAN_YARA_ENABLED": "false",
        "VERISCAN_CLAMD_SOCKET": "",
    }
    veriscan = [sys.executable, "-m", "veriscan"]
    subprocess.run(
        [
            *veriscan,
            "user",
            "create",
            "--username",
            "bench",
            "--email",
            "bench@example.com",
            "--password",
            "bench-password",
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
    results = []
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        token = httpx.post(
            f"{base}/api/auth/login", json={"username": "bench", "password": "bench-password"}
        ).json()["access_token"]
        rss_idle = vm_kib(server.pid, "VmRSS")
        reset_peak(server.pid)
        cpu_before = cpu_seconds(server.pid)
        for _ in range(args.runs):
            elapsed, out = timed(
                [
                    "curl",
                    "-sS",
                    "--fail-with-body",
                    "-H",
                    f"Authorization: Bearer {token}",
                    "-H",
                    "Expect:",
                    "-F",
                    f"file=@{sample}",
                    f"{base}/api/files/upload",
                ]
            )
            body = json.loads(out)
            results.append(elapsed)
            httpx.delete(
                f"{base}/api/files/{body['id']}", headers={"Authorization": f"Bearer {token}"}
            )
        cpu_per_upload = (cpu_seconds(server.pid) - cpu_before) / args.runs
        peak = vm_kib(server.pid, "VmHWM")
        rss_after = vm_kib(server.pid, "VmRSS")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)

    mb = size / (1024 * 1024)
    md5_median, upload_median = statistics.median(md5_times), statistics.median(results)
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"file: {mb:.0f} MB of random bytes, page cache warm; {args.runs} runs")
    print(timing_line("md5sum", mb, md5_times))
    print(timing_line("upload", mb, results))
    print(
        f"ratio:   {md5_median / upload_median:.2f}x md5sum throughput by medians, "
        f"{min(md5_times) / min(results):.2f}x by best runs"
    )
    print(f"server CPU per upload: {cpu_per_upload:.2f} s (user+system, all threads)")
    print(
        f"server memory: idle RSS {rss_idle / 1024:.0f} MB, peak during uploads (VmHWM) "
        f"{peak / 1024:.0f} MB, after {rss_after / 1024:.0f} MB"
    )


def timing_line(label: str, mb: float, times: list[float]) -> str:
    median = statistics.median(times)
    runs = ", ".join(f"{t:.2f}" for t in times)
    return f"{label + ':':8} median {median:5.2f} s = {mb / median:6.1f} MB/s  (runs: {runs} s)"


if __name__ == "__main__":
    main()
