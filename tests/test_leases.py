"""The sweep re-enqueues a job whose lease lapsed, and backs off while it keeps waiting."""

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
from veriscan.core.db import utcnow
from veriscan.malware import runner
from veriscan.malware.models import MalwareScan


@pytest.fixture(scope="module")
def idle_server(settings_factory: Callable[..., Any]) -> Iterator[LiveServer]:
    # No workers and a sweep interval longer than the test: only the test sweeps.
    with live_server(settings_factory(workers=0, sweep_interval_seconds=3600)) as live:
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
