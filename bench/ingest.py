"""Small-file ingest with scans: many distinct 4 KiB files from several clients at once.

A real `veriscan serve` process (the embedded default unless --database-url: SQLite, local
disk, in-process workers, YARA-X) receives --files distinct files of --size bytes from
--clients threads, each with its own HTTP connection, all as one user. Measured:
- files/s accepted: files over the time from the first request sent to the last answer;
- how long after the last answer every scan had finished (read from the database);
- server CPU per file, from the first upload until every scan finished (user + system,
  all threads: accepting, storing, scanning, notifying, bookkeeping);
- the same again with --seed files (and as many finished scans) already in the database,
  for each level given, so that growth with the size of the database shows;
- the ceiling: the same uploads with no engine enabled (the file is stored, no scan is
  made), at the first level. What the HTTP upload path alone accepts in this process is
  as far as "files/s accepted" can go with scans, however cheap they are made.

Prints numbers and never fails; each figure with issue 16's goal beside it. Run with
`.venv/bin/python bench/ingest.py` (or as part of `make bench`).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    cpu_seconds,
    drop_pg_database,
    file_row,
    free_port,
    login,
    malware_scan_row,
    new_pg_database,
    start_server,
    stop_server,
)

from veriscan.accounts.models import User
from veriscan.core.db import make_engine
from veriscan.files.models import Blob, File
from veriscan.malware.models import MalwareScan

GOAL_FILES_PER_S = 200
GOAL_DONE_S = 10.0
GOAL_CPU_MS = 4.0
BATCH = 5000


@dataclass
class Ingest:
    seeded: int
    files: int
    accepted_s: float
    done_after_s: float
    cpu_s: float
    client_cpu_s: float
    latencies: list[float]

    @property
    def per_s(self) -> float:
        return self.files / self.accepted_s

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s / self.files * 1000


def seed(engine: Engine, user_id: uuid.UUID, count: int) -> None:
    """`count` stored files of the user, each with a finished scan, spread over a year."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for start in range(0, count, BATCH):
            blobs, files, scans = [], [], []
            for i in range(start, min(count, start + BATCH)):
                sha = secrets.token_hex(32)
                created = now - timedelta(seconds=i * 300)
                file_id = uuid.uuid4()
                blobs.append({"sha256": sha, "size": 4096, "ref_count": 1, "created_at": created})
                files.append(file_row(file_id, user_id, sha, f"seeded-{i}.bin", created))
                scans.append(
                    malware_scan_row(
                        uuid.uuid4(), user_id, file_id, sha, created, malicious=0, engines=1
                    )
                )
            conn.execute(insert(Blob.__table__), blobs)
            conn.execute(insert(File.__table__), files)
            conn.execute(insert(MalwareScan.__table__), scans)


def run(args: argparse.Namespace, seeded: int, *, scans: bool = True) -> Ingest:
    data_dir = Path(tempfile.mkdtemp(prefix="veriscan-ingest-"))
    if args.database_url:
        pg_name, database_url = new_pg_database(args.database_url)
    else:
        pg_name, database_url = "", f"sqlite:///{data_dir / 'veriscan.db'}"
    env = {
        "VERISCAN_DATA_DIR": str(data_dir),
        "VERISCAN_DATABASE_URL": database_url,
        "VERISCAN_RATE_LIMIT": "0",
        "VERISCAN_LOG_LEVEL": "WARNING",
        "VERISCAN_CLAMD_SOCKET": "",
        "VERISCAN_YARA_ENABLED": "true" if scans else "false",
    }
    port = free_port()
    server = start_server(env, port, username="ingest")
    try:
        engine = make_engine(database_url)
        with engine.connect() as conn:
            user_id = conn.scalar(select(User.id).where(User.username == "ingest"))
        assert user_id is not None
        if seeded:
            seed(engine, user_id, seeded)
        base = f"http://127.0.0.1:{port}"
        token = login(base, "ingest")
        contents = [secrets.token_bytes(args.size) for _ in range(args.files)]
        shares = [contents[i :: args.clients] for i in range(args.clients)]
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        gate = threading.Barrier(args.clients + 1)

        def client(share: list[bytes]) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                http.get("/api/auth/me")  # the connection is open before the clock starts
                gate.wait()
                for index, content in enumerate(share):
                    start = time.perf_counter()
                    answer = http.post(
                        "/api/files/upload", files={"file": (f"f{index}.bin", content)}
                    )
                    with lock:
                        latencies.append(time.perf_counter() - start)
                        if answer.status_code != 201:
                            errors.append(f"{answer.status_code} {answer.text[:200]}")

        threads = [threading.Thread(target=client, args=(share,)) for share in shares]
        for thread in threads:
            thread.start()
        # Counting reads only: a write transaction (this process's default on SQLite)
        # would take SQLite's write lock from the server every 20 ms while it scans.
        reader = engine.execution_options(veriscan_writes=False)
        with reader.connect() as conn:
            before = conn.scalar(select(func.count()).select_from(MalwareScan))
        cpu_before = cpu_seconds(server.pid)
        gate.wait()
        started = time.perf_counter()
        client_cpu = time.process_time()
        for thread in threads:
            thread.join()
        accepted = time.perf_counter()
        client_cpu = time.process_time() - client_cpu
        if errors:
            print(f"  {len(errors)} uploads failed, first: {errors[0]}")
        expected = (before or 0) + (args.files - len(errors) if scans else 0)
        while True:
            with reader.connect() as conn:
                finished = conn.scalar(
                    select(func.count())
                    .select_from(MalwareScan)
                    .where(MalwareScan.status.in_(("completed", "failed")))
                )
            if (finished or 0) >= expected or time.perf_counter() - accepted > 120:
                break
            time.sleep(0.02)
        done = time.perf_counter()
        cpu = cpu_seconds(server.pid) - cpu_before
        engine.dispose()
    finally:
        stop_server(server)
        shutil.rmtree(data_dir, ignore_errors=True)
        if pg_name:
            drop_pg_database(args.database_url, pg_name)
    return Ingest(
        seeded, args.files, accepted - started, done - accepted, cpu, client_cpu, latencies
    )


def report_ceiling(result: Ingest, scanned: Ingest) -> None:
    print(
        f"  ceiling, the same uploads with no engine (stored, not scanned): "
        f"{result.per_s:6.1f} files/s accepted, server CPU {result.cpu_ms:5.2f} ms per file; "
        f"so a scan costs the server {scanned.cpu_ms - result.cpu_ms:.2f} ms of CPU here "
        f"(goal < {GOAL_CPU_MS:g}; bench/scan_cost.py measures one scan alone)"
    )


def report(result: Ingest) -> None:
    ordered = sorted(result.latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000
    print(
        f"{result.seeded:>7,} files already stored: "
        f"{result.per_s:6.1f} files/s accepted (goal >= {GOAL_FILES_PER_S}), "
        f"scans all finished {result.done_after_s:5.2f} s after the last upload "
        f"(goal <= {GOAL_DONE_S:g}), server CPU {result.cpu_ms:5.2f} ms per file; "
        f"upload latency median "
        f"{statistics.median(ordered) * 1000:.0f} ms, p95 {p95:.0f} ms; the clients' own CPU "
        f"{result.client_cpu_s / result.files * 1000:.1f} ms per file, on the same cores"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument(
        "--seed",
        default="2000,100000",
        help="comma-separated counts of files already in the database, one run each",
    )
    parser.add_argument("--database-url", default="", help="PostgreSQL instead of SQLite")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the run with no engine")
    args = parser.parse_args()
    levels = [int(x) for x in args.seed.split(",") if x.strip()]
    print(
        f"ingest: {args.files} distinct files of {args.size} bytes from {args.clients} "
        f"clients, {'PostgreSQL' if args.database_url else 'SQLite'}, YARA-X scans; "
        f"{os.cpu_count()} cores"
    )
    results = []
    for level in levels:
        result = run(args, level)
        report(result)
        results.append(result)
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(
            f"CPU per file at {last.seeded:,} against {first.seeded:,} stored: "
            f"{last.cpu_ms / first.cpu_ms:.2f}x (goal: no growth)"
        )
    if levels and not args.no_ceiling:
        report_ceiling(run(args, levels[0], scans=False), results[0])


if __name__ == "__main__":
    main()
