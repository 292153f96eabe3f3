"""A deployment on loopback: `veriscan serve` and `veriscan worker` processes sharing one
PostgreSQL database, one Redis and one data dir, started with the commands of
commands.py (the ones deploy/ uses)."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.distributed.commands import MIGRATE, SERVE, WORKER, argv

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Process:
    name: str
    command: list[str]
    log: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Cluster:
    env: dict[str, str]
    workdir: Path
    servers: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        workdir: Path,
        *,
        database_url: str,
        redis_url: str,
        virustotal_url: str,
        servers: int = 2,
        workers: int = 2,
        threads: int = 2,
        **settings: str,
    ) -> Cluster:
        workdir.mkdir(parents=True, exist_ok=True)
        data_dir = workdir / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("VERISCAN_")}
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        env.update(
            {
                "VERISCAN_DATA_DIR": str(data_dir),
                # Empty: the embedded default (SQLite in the data dir, in-process queue).
                "VERISCAN_DATABASE_URL": database_url,
                "VERISCAN_REDIS_URL": redis_url,
                "VERISCAN_SECRET_KEY": secrets.token_urlsafe(32),
                "VERISCAN_QUEUE_NAME": f"veriscan-cluster-{secrets.token_hex(4)}",
                "VERISCAN_VIRUSTOTAL_URL": virustotal_url,
                "VERISCAN_LOG_LEVEL": "INFO",
                **{f"VERISCAN_{k.upper()}": v for k, v in settings.items()},
            }
        )
        cluster = cls(env=env, workdir=workdir)
        for index in range(servers):
            port = free_port()
            cluster.servers.append(
                Process(
                    f"serve-{index}",
                    argv(SERVE, host="127.0.0.1", port=port),
                    workdir / f"serve-{index}.log",
                    port=port,
                )
            )
        for index in range(workers):
            cluster.workers.append(
                Process(
                    f"worker-{index}",
                    argv(WORKER, threads=threads),
                    workdir / f"worker-{index}.log",
                )
            )
        return cluster

    # ------------------------------------------------------------------ lifecycle

    def migrate(self) -> None:
        result = subprocess.run(
            argv(MIGRATE), env=self.env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def start(self, process: Process) -> None:
        assert not process.running, f"{process.name} is already running"
        with process.log.open("ab") as log:
            log.write(f"---- start {process.starts}\n".encode())
            log.flush()
            process.popen = subprocess.Popen(
                process.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        process.starts += 1

    def start_all(self) -> None:
        for process in self.servers + self.workers:
            if not process.running:
                self.start(process)
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for server in self.servers:
            while True:
                assert server.running, f"{server.name} exited:\n{server.text()[-3000:]}"
                try:
                    if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"{server.name} did not answer"
                time.sleep(0.1)
        # A worker is ready once it says so (its tasks wait in Redis until then anyway).
        for worker in self.workers:
            marker = "worker.started threads="
            while worker.running and worker.text().count(marker) < worker.starts:
                assert time.monotonic() < deadline, f"{worker.name} did not start"
                time.sleep(0.1)
            assert worker.running, f"{worker.name} exited:\n{worker.text()[-3000:]}"

    def kill(self, process: Process) -> None:
        """SIGKILL: no clean-up at all, as when a machine dies."""
        assert process.popen is not None
        process.popen.send_signal(signal.SIGKILL)
        process.popen.wait(timeout=10)

    def stop(self, process: Process) -> int:
        """SIGTERM, as systemd and compose stop a service; returns the exit code."""
        assert process.popen is not None
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGTERM)
        return process.popen.wait(timeout=30)

    def stop_all(self) -> dict[str, int]:
        return {p.name: self.stop(p) for p in self.servers + self.workers if p.popen}

    def close(self) -> None:
        for process in self.servers + self.workers:
            if process.running:
                assert process.popen is not None
                process.popen.kill()
                process.popen.wait(timeout=10)

    # ------------------------------------------------------------------ reading logs

    def started(self, scan_id: str) -> dict[str, int]:
        """How many times each worker started this scan (from its log)."""
        pattern = re.compile(rf"\.scan_started scan_id={re.escape(scan_id)}\b")
        return {w.name: len(pattern.findall(w.text())) for w in self.workers}

    def finished(self, scan_id: str) -> int:
        pattern = re.compile(rf"\.scan_finished scan_id={re.escape(scan_id)}\b")
        return sum(len(pattern.findall(w.text())) for w in self.workers)

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.text()}" for p in self.servers + self.workers)


@contextmanager
def client(server: Process, *, address: str | None = None) -> Iterator[httpx.Client]:
    """An HTTP client to one server. Each client comes from an address of its own (through
    X-Forwarded-For, trusted from loopback), so tests share no rate-limit budget."""
    address = (
        address
        or f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    )
    with httpx.Client(
        base_url=server.url, timeout=30, headers={"X-Forwarded-For": address}
    ) as http:
        yield http
