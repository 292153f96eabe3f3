"""What one process holds for its whole life, built once by the composition root."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from huey import Huey

from veriscan.core.config import Settings
from veriscan.core.db import Database
from veriscan.core.security import Passwords, SecretBox, Tokens
from veriscan.engines.base import LocalEngine
from veriscan.engines.virustotal.client import VirusTotalClient
from veriscan.engines.virustotal.engine import VirusTotalEngine
from veriscan.engines.virustotal.health import ReachLog
from veriscan.engines.virustotal.quota import Allowance, QuotaGate
from veriscan.locks import NamedLocks
from veriscan.queue import RequestLoop, Timers, make_huey
from veriscan.realtime import Realtime
from veriscan.storage import BlobStore


def build_local_engines(settings: Settings) -> list[LocalEngine]:
    engines: list[LocalEngine] = []
    if settings.yara_enabled:
        from veriscan.engines.yara import YaraEngine

        engines.append(
            YaraEngine(settings.user_yara_rules_dir, timeout=settings.yara_timeout_seconds)
        )
    if settings.clamd_socket:
        from veriscan.engines.clamav import ClamAVEngine

        engines.append(ClamAVEngine(settings.clamd_socket))
    return engines


@dataclass
class AppContext:
    settings: Settings
    db: Database
    blobs: BlobStore
    passwords: Passwords
    tokens: Tokens
    secret_box: SecretBox
    virustotal: VirusTotalClient
    virustotal_engine: VirusTotalEngine
    quota: QuotaGate
    reach: ReachLog
    local_engines: list[LocalEngine]
    locks: NamedLocks
    realtime: Realtime
    huey: Huey
    started_at: float = field(default_factory=time.monotonic)
    # Set when the tasks are registered (jobs.register_all): puts a scan on the queue.
    enqueue_scan: Callable[[uuid.UUID], None] = field(default=lambda _: None)
    # Set by jobs.register_all: puts a media scan on the queue.
    enqueue_media: Callable[[uuid.UUID], None] = field(default=lambda _: None)
    # Set by jobs.register_all: asks for the VirusTotal requests of one key to be handed
    # out (malware/dispatch.py), by the key's fingerprint.
    enqueue_dispatch: Callable[[str], None] = field(default=lambda _: None)
    # Set by jobs.register_all: completes, without VirusTotal, the scans waiting on a key
    # that is being deleted or deactivated, in the caller's transaction: (session, key id,
    # reason) -> what to announce once it is committed.
    release_key_scans: Callable[[Any, uuid.UUID, str], Callable[[], None]] = field(
        default=lambda *_: lambda: None
    )
    # Wake-ups of scans that wait (queue.Timers).
    timers: Timers = field(default_factory=Timers)
    # Where VirusTotal's requests wait for their answers (queue.RequestLoop).
    requests: RequestLoop = field(default_factory=RequestLoop)
    _media_analyzers: list[Any] | None = None
    _media_analyzers_lock: threading.Lock = field(default_factory=threading.Lock)
    # Set as the process begins to stop: a scan that fails from then on (its threads
    # refused by a closing interpreter, its connections closed) is left to its lease
    # for another worker instead of being recorded as a crash.
    stopping: threading.Event = field(default_factory=threading.Event)
    # When the sweeper next refreshes the database's planner statistics (jobs.sweep_all).
    statistics_due: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        secrets = settings.secrets()
        virustotal = VirusTotalClient(settings.virustotal_url, settings.virustotal_timeout)
        quota = QuotaGate(
            settings.redis_url,
            namespace=settings.queue_name,
            minute_seconds=settings.virustotal_minute_seconds,
            day_seconds=settings.virustotal_day_seconds,
            margin_seconds=settings.virustotal_quota_margin_seconds,
        )
        return cls(
            settings=settings,
            db=Database(settings.resolved_database_url),
            blobs=BlobStore(settings.blob_dir),
            passwords=Passwords(
                memory_kib=settings.password_hash_memory_kib,
                time_cost=settings.password_hash_time_cost,
            ),
            tokens=Tokens(
                secrets,
                access_ttl=timedelta(minutes=settings.access_token_minutes),
                refresh_ttl=timedelta(days=settings.refresh_token_days),
            ),
            secret_box=SecretBox(secrets),
            virustotal=virustotal,
            virustotal_engine=VirusTotalEngine(
                virustotal,
                Allowance(
                    per_minute=settings.virustotal_requests_per_minute,
                    per_hour=None,
                    per_day=settings.virustotal_requests_per_day,
                ),
            ),
            quota=quota,
            reach=ReachLog(settings.redis_url, settings.queue_name),
            local_engines=build_local_engines(settings),
            locks=NamedLocks(settings.redis_url, settings.queue_name),
            realtime=Realtime(settings.redis_url, settings.queue_name, settings.cors_origins),
            huey=make_huey(settings),
        )

    def media_analyzers(self) -> list[Any]:
        """The media analyzers, built once on first use: they import OpenCV, PyAV, c2pa...,
        which takes over a second (more on a busy machine), so a worker builds them before
        it claims a scan, never while holding a lease."""
        with self._media_analyzers_lock:
            if self._media_analyzers is None:
                from veriscan.analyzers.registry import build_analyzers

                self._media_analyzers = build_analyzers(self.settings)
            return self._media_analyzers

    def media_thresholds(self) -> Any:
        from veriscan.analyzers.registry import thresholds

        return thresholds(self.settings)

    def close(self) -> None:
        self.stopping.set()
        self.timers.stop()
        self.requests.stop()
        self.quota.close()
        self.reach.close()
        self.locks.close()
        self.realtime.close()
        self.db.dispose()
