"""Many clients at once against a real deployment: latency, errors, throughput, memory.

Two deployments, one after the other, started with the commands the cluster tests and
deploy/ use (tests/distributed/commands.py):
  - distributed: 2 `veriscan serve` + 2 `veriscan worker` on PostgreSQL and Redis;
  - embedded: 1 `veriscan serve` on SQLite with its in-process workers (the default).

Each of N clients signs up, then for the duration loops without pause over a mix of
sign-ins, listings, profile reads, small uploads (each starts a YARA-X scan on a worker)
and socket.io connections. Rate limiting is off: the point is the service's capacity, and
a 429 would only measure the limiter. Prints numbers and never fails:

    python bench/load.py [--clients 50] [--seconds 60] [--only distributed|embedded]

Needs PostgreSQL and Redis for the distributed run (VERISCAN_BENCH_DATABASE_URL,
VERISCAN_BENCH_REDIS_URL; defaults are the local servers .ci/run uses).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import secrets
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import psycopg
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.distributed.cluster import Cluster

IDLE_SECONDS = 10.0
PASSWORD = "bench-password-123"  # noqa: S105 - accounts made for the run
# Operation: weight in the mix.
MIX = {
    "login": 10,
    "list scans": 25,
    "media history": 10,
    "list files": 10,
    "profile": 15,
    "upload 16 KB": 15,
    "socket.io connect": 15,
}


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    rate_limited: int = 0

    def record(self, op: str, outcome: int | str, seconds: float) -> None:
        if outcome == 429:
            self.rate_limited += 1
        elif isinstance(outcome, int) and outcome < 400:
            self.latencies[op].append(seconds)
        else:
            self.errors[op][str(outcome)] += 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Client:
    def __init__(self, base: str, index: int) -> None:
        self.base = base
        self.http = httpx.AsyncClient(base_url=base, timeout=60)
        self.username = f"load{index}_{secrets.token_hex(3)}"
        self.token = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def sign_up(self) -> None:
        created = await self.http.post(
            "/api/auth/register",
            json={
                "username": self.username,
                "email": f"{self.username}@example.com",
                "password": PASSWORD,
            },
        )
        created.raise_for_status()
        await self.login()

    async def login(self) -> int:
        response = await self.http.post(
            "/api/auth/login", json={"username": self.username, "password": PASSWORD}
        )
        if response.status_code == 200:
            self.token = response.json()["access_token"]
        return response.status_code

    async def run(self, op: str) -> int | str:
        if op == "login":
            return await self.login()
        if op == "list scans":
            r = await self.http.get("/api/scan/results", headers=self.headers)
        elif op == "media history":
            r = await self.http.get("/api/scans/history", headers=self.headers)
        elif op == "list files":
            r = await self.http.get("/api/files/", headers=self.headers)
        elif op == "profile":
            r = await self.http.get("/api/auth/profile", headers=self.headers)
        elif op == "upload 16 KB":
            content = secrets.token_bytes(16 * 1024)
            r = await self.http.post(
                "/api/files/upload", headers=self.headers, files={"file": ("s.bin", content)}
            )
        else:
            return await self.socket()
        return r.status_code

    async def socket(self) -> int | str:
        sio = socketio.AsyncClient(reconnection=False)
        try:
            await sio.connect(
                self.base, auth={"token": self.token}, transports=["websocket"], wait_timeout=30
            )
            return 200
        except Exception as exc:
            return type(exc).__name__
        finally:
            await sio.disconnect()


async def sample_memory(
    cluster: Cluster, seconds: float, every: float, into: list[dict[str, float]]
) -> None:
    """RSS of every process every `every` seconds: growth that levels off is warm-up
    (caches, pools, lazily loaded engines); growth that keeps going is a leak."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(every)
        into.append(rss_mb(cluster))


async def drive(
    servers: list[str], clients: int, seconds: float, cluster: Cluster
) -> tuple[Results, float, list[dict[str, float]]]:
    pool = [Client(servers[i % len(servers)], i) for i in range(clients)]
    # Sign-ups in small groups: Argon2 takes 64 MB per hash, 50 at once is not the mix.
    for start in range(0, clients, 5):
        await asyncio.gather(*(c.sign_up() for c in pool[start : start + 5]))
    results = Results()
    ops, weights = list(MIX), list(MIX.values())
    deadline = time.monotonic() + seconds

    async def loop(client: Client) -> None:
        rng = random.Random(client.username)
        while time.monotonic() < deadline:
            op = rng.choices(ops, weights)[0]
            began = time.perf_counter()
            try:
                outcome = await client.run(op)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            results.record(op, outcome, time.perf_counter() - began)

    samples: list[dict[str, float]] = [rss_mb(cluster)]
    began = time.monotonic()
    await asyncio.gather(
        *(loop(c) for c in pool), sample_memory(cluster, seconds, seconds / 4, samples)
    )
    elapsed = time.monotonic() - began
    for c in pool:
        await c.http.aclose()
    # Once the last requests and queued scans are done: what the processes keep.
    await asyncio.sleep(IDLE_SECONDS)
    samples.append(rss_mb(cluster))
    return results, elapsed, samples


def rss_mb(cluster: Cluster) -> dict[str, float]:
    out = {}
    for process in cluster.servers + cluster.workers:
        assert process.popen is not None
        out[process.name] = psutil.Process(process.popen.pid).memory_info().rss / 2**20
    return out


def cpu_seconds(cluster: Cluster) -> dict[str, float]:
    out = {}
    for process in cluster.servers + cluster.workers:
        assert process.popen is not None
        times = psutil.Process(process.popen.pid).cpu_times()
        out[process.name] = times.user + times.system
    own = psutil.Process().cpu_times()
    out["load generator"] = own.user + own.system
    return out


def report(
    name: str,
    results: Results,
    elapsed: float,
    samples: list[dict[str, float]],
    cpu: dict[str, float],
) -> None:
    total_ok = sum(len(v) for v in results.latencies.values())
    total_err = sum(sum(v.values()) for v in results.errors.values())
    print(f"\n### {name}\n")
    print(
        f"{total_ok + total_err} requests in {elapsed:.0f} s: "
        f"**{(total_ok + total_err) / elapsed:.1f} per second**, "
        f"errors {total_err} ({100 * total_err / max(1, total_ok + total_err):.2f} %), "
        f"429s {results.rate_limited}\n"
    )
    print("| operation | count | p50 ms | p99 ms | max ms | errors |")
    print("|---|---:|---:|---:|---:|---|")
    for op in MIX:
        values = results.latencies.get(op, [])
        errs = dict(results.errors.get(op, {}))
        print(
            f"| {op} | {len(values)} | {1000 * percentile(values, 0.5):.0f} | "
            f"{1000 * percentile(values, 0.99):.0f} | {1000 * max(values, default=0):.0f} | "
            f"{errs or ''} |"
        )
    during = len(samples) - 2  # the first is the start, the last is after the idle wait
    marks = " | ".join(
        [f"{i * elapsed / during:.0f} s" for i in range(during + 1)]
        + [f"idle {IDLE_SECONDS:.0f} s after"]
    )
    print(f"\n| process | CPU s | RSS MB at {marks} |")
    print("|---|---:|" + "---:|" * len(samples))
    for process in samples[0]:
        series = " | ".join(f"{sample[process]:.0f}" for sample in samples)
        print(f"| {process} | {cpu[process]:.0f} | {series} |")
    print(f"| load generator | {cpu['load generator']:.0f} | |")


def new_pg_database(base: str) -> str:
    name = f"veriscan_bench_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def run(name: str, cluster: Cluster, clients: int, seconds: float) -> None:
    cluster.migrate()
    cluster.start_all()
    try:
        # Warm-up: every server process answers a request before memory is read.
        for server in cluster.servers:
            httpx.get(f"{server.url}/health", timeout=10).raise_for_status()
        urls = [server.url for server in cluster.servers]
        cpu_before = cpu_seconds(cluster)
        results, elapsed, samples = asyncio.run(drive(urls, clients, seconds, cluster))
        cpu = {k: v - cpu_before[k] for k, v in cpu_seconds(cluster).items()}
        report(name, results, elapsed, samples, cpu)
        errors = [line for line in cluster.logs().splitlines() if " ERROR " in line]
        if errors:
            print(f"\n{len(errors)} ERROR lines in the logs, first: {errors[0][:300]}")
    finally:
        cluster.stop_all()
        cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--only", choices=["distributed", "embedded"])
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {args.clients} clients for {args.seconds:.0f} s; "
        "the load generator runs on the same machine"
    )
    # INFO, as deployed: access lines included (and the cluster waits for workers' lines).
    settings = {"rate_limit": "0", "log_level": "INFO"}
    workdir = Path(tempfile.mkdtemp(prefix="veriscan-load-"))
    if args.only in (None, "distributed"):
        pg = os.environ.get(
            "VERISCAN_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        )
        redis = os.environ.get("VERISCAN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
        cluster = Cluster.create(
            workdir / "distributed",
            database_url=new_pg_database(pg),
            redis_url=redis,
            virustotal_url="http://127.0.0.1:9/api/v3",
            servers=2,
            workers=2,
            threads=2,
            **settings,
        )
        run("PostgreSQL + Redis: 2 serve + 2 worker processes", cluster, args.clients, args.seconds)
    if args.only in (None, "embedded"):
        cluster = Cluster.create(
            workdir / "embedded",
            database_url="",
            redis_url="",
            virustotal_url="http://127.0.0.1:9/api/v3",
            servers=1,
            workers=0,
            **settings,
        )
        run(
            "Embedded default: 1 serve process, SQLite, 4 worker threads",
            cluster,
            args.clients,
            args.seconds,
        )


if __name__ == "__main__":
    main()
