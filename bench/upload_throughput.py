"""Upload a large file through the API and compare with `md5sum` of the same file.

Prints numbers and never fails. Run with `make bench` (or `python bench/upload_throughput.py
--sizes-mb 1024,256 [--database-url postgresql://...]`). The server is a real `veriscan
serve` process; the client is curl, so the Python client's own cost does not count against
the server. Memory: the server's anonymous memory (RssAnon, sampled every 10 ms: what the
upload itself holds, not the page cache) and its VmHWM (the kernel's high-water mark of
resident memory), read before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    cpu_seconds,
    drop_pg_database,
    free_port,
    login,
    new_pg_database,
    pg_reachable,
    reset_peak,
    start_server,
    status_kib,
    stop_server,
)

GOAL_RATIO = 0.75  # issue 16: the upload's throughput against md5sum's, by medians
GOAL_ANON_MB = 50  # issue 16: growth of the server's anonymous memory during an upload


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


@dataclass
class Uploads:
    times: list[float]
    cpu_per_upload: float
    rss_idle_kib: int
    peak_kib: int
    rss_after_kib: int
    anon_growth_kib: int


class AnonPeak(threading.Thread):
    """Samples the server's RssAnon every 10 ms: the kernel keeps no peak of it."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.base = status_kib(pid, "RssAnon")
        self.peak = self.base
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.01):
            self.peak = max(self.peak, status_kib(self.pid, "RssAnon"))


def upload_through_api(sample: Path, runs: int, database_url: str) -> Uploads:
    data_dir = Path(tempfile.mkdtemp(dir=sample.parent, prefix="data-"))
    port = free_port()
    env = {
        "VERISCAN_DATA_DIR": str(data_dir),
        "VERISCAN_RATE_LIMIT": "0",
        "VERISCAN_MAX_UPLOAD_MB": str(sample.stat().st_size // (1024 * 1024) + 1),
        "VERISCAN_LOG_LEVEL": "WARNING",
        # Measure the upload alone: no engine, so no scan starts behind it.
        "VERISCAN_YARA_ENABLED": "false",
        "VERISCAN_CLAMD_SOCKET": "",
    }
    if database_url:
        env["VERISCAN_DATABASE_URL"] = database_url
    server = start_server(env, port, username="bench")
    base = f"http://127.0.0.1:{port}"
    times = []
    try:
        token = login(base, "bench")
        rss_idle = status_kib(server.pid, "VmRSS")
        reset_peak(server.pid)
        anon = AnonPeak(server.pid)
        anon.start()
        cpu_before = cpu_seconds(server.pid)
        for _ in range(runs):
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
            times.append(elapsed)
            httpx.delete(
                f"{base}/api/files/{json.loads(out)['id']}",
                headers={"Authorization": f"Bearer {token}"},
            )
        cpu_per_upload = (cpu_seconds(server.pid) - cpu_before) / runs
        anon.done.set()
        anon.join()
        return Uploads(
            times,
            cpu_per_upload,
            rss_idle,
            status_kib(server.pid, "VmHWM"),
            status_kib(server.pid, "VmRSS"),
            anon.peak - anon.base,
        )
    finally:
        stop_server(server)
        shutil.rmtree(data_dir, ignore_errors=True)


def measure(workdir: Path, size_mb: int, runs: int, database: str, database_url: str) -> None:
    sample = workdir / f"sample-{size_mb}mb.bin"
    make_file(sample, size_mb)
    subprocess.run(["cat", str(sample)], stdout=subprocess.DEVNULL, check=True)  # page cache
    md5_times = [timed(["md5sum", str(sample)])[0] for _ in range(runs)]
    uploads = upload_through_api(sample, runs, database_url)
    md5_median, upload_median = statistics.median(md5_times), statistics.median(uploads.times)
    ratio = md5_median / upload_median
    print(f"{size_mb} MiB on {database}, {runs} runs:")
    print("  " + timing_line("md5sum", size_mb, md5_times))
    print("  " + timing_line("upload", size_mb, uploads.times))
    print(
        f"  ratio {ratio:.2f}x md5sum's throughput by medians "
        f"({min(md5_times) / min(uploads.times):.2f}x by best runs; goal >= {GOAL_RATIO}): "
        f"{'met' if ratio >= GOAL_RATIO else 'missed'}"
    )
    print(
        f"  server anonymous memory grew {uploads.anon_growth_kib / 1024:.0f} MB at most "
        f"(goal < {GOAL_ANON_MB}); RSS idle {uploads.rss_idle_kib / 1024:.0f} MB, peak "
        f"{uploads.peak_kib / 1024:.0f} MB, after {uploads.rss_after_kib / 1024:.0f} MB; "
        f"server CPU {uploads.cpu_per_upload:.2f} s per upload"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes-mb", default="1024,256", help="comma-separated file sizes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="", help="PostgreSQL server: also run there")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "veriscan-bench"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"upload through the API against md5sum of the same file, page cache warm; client "
        f"curl on the same machine: {platform.machine()} {os.cpu_count()} cores, Python "
        f"{platform.python_version()}"
    )
    postgresql = bool(args.database_url) and pg_reachable(args.database_url)
    for size_mb in (int(x) for x in args.sizes_mb.split(",") if x.strip()):
        measure(args.workdir, size_mb, args.runs, "SQLite", "")
        if postgresql:
            name, url = new_pg_database(args.database_url)
            try:
                measure(args.workdir, size_mb, args.runs, "PostgreSQL", url)
            finally:
                drop_pg_database(args.database_url, name)


def timing_line(label: str, mb: float, times: list[float]) -> str:
    median = statistics.median(times)
    runs = ", ".join(f"{t:.2f}" for t in times)
    return f"{label + ':':8} median {median:5.2f} s = {mb / median:6.1f} MB/s  (runs: {runs} s)"


if __name__ == "__main__":
    main()
