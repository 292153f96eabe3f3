"""A scan's final event reaches those who read it through a grant, and nobody else."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Account
from tests.live import LiveServer, live_server
from tests.malware.helpers import unique_content, upload
from tests.test_realtime import listening
from veriscan.malware import runner


@pytest.fixture(scope="module")
def idle_server(settings_factory: Callable[..., Any]) -> Iterator[LiveServer]:
    # No workers: the test runs the scan itself, once the grants are in place.
    with live_server(settings_factory(workers=0, sweep_interval_seconds=3600)) as live:
        yield live


def test_scan_complete_reaches_the_shared_the_assignee_and_not_a_stranger(
    idle_server: LiveServer, make_account: Callable[..., Account]
) -> None:
    live = idle_server
    owner, reader, analyst, stranger = (
        make_account(on=live),
        make_account(on=live),
        make_account("analyst", on=live),
        make_account(on=live),
    )
    with httpx.Client(base_url=live.url, timeout=30) as api:
        scan_id = upload(api, owner, unique_content(), "live.txt")["scan"]["scan_id"]
        shared = api.post(
            f"/api/scan/{scan_id}/shares", headers=owner.headers, json={"userId": reader.id}
        )
        assert shared.status_code == 201, shared.text
        assigned = api.put(
            f"/api/scan/{scan_id}/assignment", headers=owner.headers, json={"userId": analyst.id}
        )
        assert assigned.status_code == 200, assigned.text
    with (
        listening(live, owner.access_token) as owners,
        listening(live, reader.access_token) as readers,
        listening(live, analyst.access_token) as analysts,
        listening(live, stranger.access_token) as strangers,
    ):
        runner.run_scan(live.context, uuid.UUID(scan_id))
        events = [
            listener.wait_for("scan:complete", scan_id) for listener in (owners, readers, analysts)
        ]
        assert events[0] == events[1] == events[2]
        assert events[0]["status"] == "completed" and events[0]["kind"] == "malware"
        # Progress stays the owner's: a grant brings the result, not every step.
        assert any(n == "scan:progress" for n, _ in owners.events)
        assert not [n for n, _ in readers.events if n == "scan:progress"]
        # The stranger's connection is live (it would have heard by now) and heard nothing.
        assert not [d for _, d in strangers.events if d.get("scanId") == scan_id]
