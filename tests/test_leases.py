"""The sweep re-enqueues a job whose lease lapsed, and backs off while it keeps waiting; a
worker takes a lease only when it is ready to work."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.conftest import Account
from tests.live import LiveServer, live_server
from tests.media.helpers import photo_jpeg, upload_media
from veriscan.core.db import utcnow
from veriscan.malware import runner
from veriscan.malware.models import MalwareScan
from veriscan.media import runner as media_runner
from veriscan.media.models import MediaScan
from veriscan.queue import WakingSqliteHuey, make_huey


@pytest.fixture(scope="module")
def idle_server(settings_factory: Callable[..., Any]) -> Iterator[LiveServer]:
    # No workers and a sweep interval longer than the test: only the test sweeps.
    with live_server(
        settings_factory(workers=0, sweep_interval_seconds=3600, media_wait_seconds=0)
    ) as live:
        yield live


def test_a_waiting_scan_is_woken_again_after_its_age_not_every_lease(
    idle_server: LiveServer, make_account: Callable[..., Account]
) -> None:
    context = idle_server.context
    account = make_account(on=idle_server)
    with httpx.Client(base_url=idle_server.url) as http:
        uploaded, other = (
            http.post(
                "/api/files/upload", headers=account.headers, files={"file": ("a.txt", content)}
            )
            for content in (b"hello", b"world")
        )
    assert uploaded.status_code == 201, uploaded.text
    assert other.status_code == 201, other.text
    other_scan = uuid.UUID(other.json()["scan"]["scan_id"])
    scan_id = uploaded.json()["scan"]["scan_id"]
    lease = context.settings.scan_lease_seconds

    def age(scan: uuid.UUID, *, created: timedelta, lease_left: timedelta) -> None:
        now = utcnow()
        with context.db.session() as session:
            session.execute(
                update(MalwareScan)
                .where(MalwareScan.id == scan)
                .values(created_at=now - created, lease_until=now + lease_left)
            )

    def lease_until() -> Any:
        with context.db.session(writes=False) as session:
            row = session.get(MalwareScan, scan)
            assert row is not None
            return row.lease_until

    scan = uuid.UUID(scan_id)
    # Waiting an hour, lease lapsed: woken now, and not again for about an hour (both
    # lapsed scans are released in one statement per row).
    age(scan, created=timedelta(hours=1), lease_left=timedelta(seconds=-1))
    age(other_scan, created=timedelta(hours=1), lease_left=timedelta(seconds=-1))
    before = utcnow()
    assert sorted(runner.sweep(context)) == sorted([scan, other_scan])
    until = lease_until()
    assert timedelta(minutes=59) < until - before < timedelta(minutes=61)
    assert runner.sweep(context) == []
    # A scan just created whose wake-up was lost: woken after one lease.
    age(scan, created=timedelta(seconds=0), lease_left=timedelta(seconds=-1))
    before = utcnow()
    assert runner.sweep(context) == [scan]
    assert timedelta(seconds=lease - 0.5) < lease_until() - before < timedelta(seconds=lease + 1)
    with context.db.session(writes=False) as session:
        row = session.get(MalwareScan, scan)
        assert row is not None and row.status == "pending" and row.claim_token is None


def test_a_media_worker_builds_its_analyzers_before_it_claims(
    idle_server: LiveServer, make_account: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building the analyzers imports OpenCV, PyAV and c2pa: over a second the first time, and
    # more on a busy machine. Done after the claim, it let a short lease run out before its
    # first renewal, and another worker ran the same scan (seen in the cluster test).
    context = idle_server.context
    account = make_account(on=idle_server)
    with httpx.Client(base_url=idle_server.url) as http:
        uploaded = upload_media(http, account, photo_jpeg(seed=21))
    assert uploaded.status_code == 202, uploaded.text
    scan_id = uuid.UUID(uploaded.json()["data"]["id"])
    build = context.media_analyzers
    tokens_seen: list[str | None] = []

    def observed() -> list[Any]:
        with context.db.session() as session:
            scan = session.get(MediaScan, scan_id)
            assert scan is not None
            tokens_seen.append(scan.claim_token)
        return build()

    monkeypatch.setattr(context, "media_analyzers", observed)
    media_runner.run_media_scan(context, scan_id)
    with context.db.session() as session:
        scan = session.get(MediaScan, scan_id)
        assert scan is not None
        assert scan.status == "COMPLETED"
    # First before the claim (no token yet), then again by the analysis, under the claim.
    assert tokens_seen[0] is None
    assert len(tokens_seen) == 2 and tokens_seen[1] is not None


def test_a_stopping_server_waits_for_its_workers_a_bounded_time() -> None:
    # The engine is disposed after this wait: a worker still inside a scan must be done
    # with the database first, or its connection would be left to the garbage collector.
    import threading
    import time
    from types import SimpleNamespace

    from veriscan.queue import join_workers

    quick = threading.Thread(target=time.sleep, args=(0.1,))
    slow = threading.Thread(target=time.sleep, args=(3.0,), daemon=True)
    for thread in (quick, slow):
        thread.start()

    started = time.monotonic()
    assert join_workers(SimpleNamespace(worker_threads=[(None, quick)]), 2.0) is True
    assert not quick.is_alive()
    assert join_workers(SimpleNamespace(worker_threads=[(None, slow)]), 0.3) is False
    assert time.monotonic() - started < 1.5  # bounded by the timeout, not by the task


def test_the_sqlite_queue_holds_only_wake_ups_and_does_not_wait_for_the_disk(
    settings_factory: Callable[..., Any],
) -> None:
    # What it loses in a power cut, the sweep above makes again from the rows. (The
    # embedded queue: without Redis, whatever this run's servers use.)
    huey = make_huey(settings_factory(redis_url=""))
    assert isinstance(huey, WakingSqliteHuey)
    with huey.storage.db() as connection:
        assert connection.execute("PRAGMA synchronous").fetchone() == (0,)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
