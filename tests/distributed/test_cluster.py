"""Two `veriscan serve` and two `veriscan worker` processes on PostgreSQL and Redis.

The promises of DESIGN.md under scale-out and faults: events cross servers, every scan
completes exactly once, a killed worker's scans are finished by the other, a full stop
loses nothing, and rate limits and VirusTotal quotas hold across processes.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_PASSWORD, Account, assert_envelope, blob_files, unique_name
from tests.distributed.cluster import Cluster, Process, client
from tests.malware.helpers import eicar_variant, unique_content
from tests.media.helpers import photo_jpeg
from tests.test_realtime import listening
from tests.vtstub import start_stub

# Our VirusTotal "minute" is 2 s against the stand-in's 1 s: whole-second windows plus
# arrival jitter would otherwise let a request land in the stand-in's next-but-one window.
VT_MINUTE = 1.0
OUR_MINUTE = "2"
KEY_PER_MINUTE = 12
RATE_LIMIT = 400


@pytest.fixture(scope="module")
def vt_cluster() -> Iterator[Any]:
    with start_stub(minute_seconds=VT_MINUTE) as stub:
        yield stub


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    new_database: Callable[[], str],
    redis_url: str,
    vt_cluster: Any,
) -> Iterator[Cluster]:
    database_url = new_database()
    if not redis_url or not database_url.startswith("postgresql"):
        pytest.skip("the cluster needs PostgreSQL and Redis: .ci/run's second pass sets them")
    cluster = Cluster.create(
        tmp_path_factory.mktemp("cluster"),
        database_url=database_url,
        redis_url=redis_url,
        virustotal_url=str(vt_cluster.url),
        rate_limit=f"{RATE_LIMIT}/minute",
        scan_lease_seconds="2",
        sweep_interval_seconds="0.5",
        virustotal_minute_seconds=OUR_MINUTE,
        virustotal_quota_margin_seconds="0",
        virustotal_first_poll_seconds="0.1",
        virustotal_poll_seconds="0.1",
        virustotal_poll_max_seconds="0.3",
        virustotal_retry_seconds="0.05",
        virustotal_retry_max_seconds="0.2",
        media_wait_seconds="0",
    )
    cluster.migrate()
    try:
        cluster.start_all()
        yield cluster
    finally:
        cluster.close()
        print(cluster.logs()[-20000:])  # shown by pytest when a test failed


@pytest.fixture
def running(cluster: Cluster, vt_cluster: Any) -> Cluster:
    """Every process up, the stand-in answering quickly."""
    vt_cluster.polls_until_complete = 2
    cluster.start_all()
    return cluster


def register(server: Process, vt: Any | None = None) -> Account:
    username = unique_name("cluster")
    with client(server) as http:
        created = http.post(
            "/api/auth/register",
            json={
                "username": username,
                "email": f"{username}@example.com",
                "password": TEST_PASSWORD,
            },
        )
        assert created.status_code == 201, created.text
        login = http.post("/api/auth/login", json={"username": username, "password": TEST_PASSWORD})
        assert login.status_code == 200, login.text
        body = login.json()
        account = Account(
            id=body["user"]["id"],
            username=username,
            email=f"{username}@example.com",
            password=TEST_PASSWORD,
            role="operative",
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
        )
        if vt is not None:
            value = secrets.token_hex(32)
            vt.add_key(value, per_minute=KEY_PER_MINUTE, per_day=None)
            key = http.post(
                "/api/keys/", headers=account.headers, json={"name": "vt", "key_value": value}
            )
            assert key.status_code == 201, key.text
            account.extra["vt_key"] = value
    return account


def upload(http: httpx.Client, account: Account, content: bytes, name: str) -> str:
    response = http.post(
        "/api/files/upload", headers=account.headers, files={"file": (name, content)}
    )
    assert response.status_code == 201, response.text
    scan_id: str = response.json()["scan"]["scan_id"]
    return scan_id


def wait_all(
    http: httpx.Client, account: Account, scan_ids: list[str], timeout: float = 60.0
) -> dict[str, dict[str, Any]]:
    """Poll the user's listing until every scan is completed or failed (one request a
    round, well inside the rate limit)."""
    deadline = time.monotonic() + timeout
    while True:
        response = http.get("/api/scan/results", headers=account.headers, params={"per_page": 100})
        assert response.status_code == 200, response.text
        scans = {s["id"]: s for s in response.json()["scans"] if s["id"] in scan_ids}
        if len(scans) == len(scan_ids) and all(
            s["status"] in ("completed", "failed") for s in scans.values()
        ):
            return scans
        assert time.monotonic() < deadline, {k: s["status"] for k, s in scans.items()}
        time.sleep(0.5)


def test_events_cross_servers_and_every_scan_runs_once(running: Cluster, vt_cluster: Any) -> None:
    serve_a, serve_b = running.servers
    account = register(serve_a, vt_cluster)
    files = [unique_content(f"file{i}") for i in range(7)] + [eicar_variant()]
    with listening(serve_b, account.access_token) as events, client(serve_a) as http:
        scan_ids = [upload(http, account, content, f"f{i}.bin") for i, content in enumerate(files)]
        media = http.post(
            "/api/scans/upload",
            headers=account.headers,
            files={"file": ("photo.jpg", photo_jpeg(seed=7))},
        )
        assert media.status_code == 202, media.text
        media_id = media.json()["data"]["id"]
        completions = {sid: events.wait_for("scan:complete", sid, timeout=60) for sid in scan_ids}
        media_event = events.wait_for("scan:complete", media_id, timeout=60)
        final = wait_all(http, account, scan_ids)

    assert {s["status"] for s in final.values()} == {"completed"}
    assert completions[scan_ids[-1]]["detection_ratio"] == "9/9"  # EICAR, every stub engine
    assert {completions[sid]["detection_ratio"] for sid in scan_ids[:-1]} == {"0/9"}
    assert media_event["scanId"] == media_id
    # Each scan started and finished exactly once, on one worker or the other.
    for scan_id in [*scan_ids, media_id]:
        assert sum(running.started(scan_id).values()) == 1, running.started(scan_id)
        assert running.finished(scan_id) == 1
    # Both workers took part, and each file went to VirusTotal once.
    by_worker = {w.name: sum(running.started(s)[w.name] for s in scan_ids) for w in running.workers}
    assert all(count > 0 for count in by_worker.values()), by_worker
    uploads = vt_cluster.uploads
    assert [uploads.count(hashlib.sha256(c).hexdigest()) for c in files] == [1] * len(files)
    # The key's quota held across both workers: VirusTotal refused nothing.
    assert vt_cluster.quota_violations == 0
    assert "Traceback" not in running.logs()


def test_a_killed_worker_s_scans_are_finished_by_the_other(
    running: Cluster, vt_cluster: Any
) -> None:
    victim, survivor = running.workers
    account = register(running.servers[0], vt_cluster)
    # Analyses now take several polls: scans are mid-flight long enough to be killed.
    vt_cluster.polls_until_complete = 12
    with client(running.servers[1]) as http:
        scan_ids = [
            upload(http, account, unique_content(f"kill{i}"), f"k{i}.bin") for i in range(6)
        ]
        deadline = time.monotonic() + 30
        while not any(running.started(s)[victim.name] for s in scan_ids):
            assert time.monotonic() < deadline, "the victim never started a scan"
            time.sleep(0.05)
        running.kill(victim)
        taken = [s for s in scan_ids if running.started(s)[victim.name]]
        unfinished = [s for s in taken if running.finished(s) == 0]
        final = wait_all(http, account, scan_ids, timeout=90)

    assert {s["status"] for s in final.values()} == {"completed"}, final
    assert unfinished, "every scan the victim took had finished before the kill"
    for scan_id in unfinished:
        # Taken over (its lease ran out, or its VirusTotal part was due and the victim's
        # timer died with it), carried on by the survivor, and finished once.
        assert scan_id in survivor.text()
        assert running.finished(scan_id) == 1
    # The analysis id was kept: a taken-over scan polls it rather than uploading again.
    uploads = vt_cluster.uploads
    assert all(uploads.count(sha) <= 1 for sha in set(uploads))


def test_stopping_and_starting_everything_loses_nothing(running: Cluster, vt_cluster: Any) -> None:
    account = register(running.servers[0], vt_cluster)
    vt_cluster.polls_until_complete = 12
    with client(running.servers[0]) as http:
        in_flight = [
            upload(http, account, unique_content(f"stop{i}"), f"s{i}.bin") for i in range(4)
        ]
        deadline = time.monotonic() + 30
        while not any(sum(running.started(s).values()) for s in in_flight):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    for worker in running.workers:
        assert running.stop(worker) == 0
    # Accepted while no worker runs: queued in Redis, recorded in PostgreSQL.
    with client(running.servers[1]) as http:
        queued = [
            upload(http, account, unique_content(f"queued{i}"), f"q{i}.bin") for i in range(3)
        ]
    codes = running.stop_all()
    # A clean stop: uvicorn re-raises the SIGTERM it handled, huey's consumer exits 0.
    assert codes == {"serve-0": -15, "serve-1": -15, "worker-0": 0, "worker-1": 0}, codes

    vt_cluster.polls_until_complete = 2
    running.start_all()
    with client(running.servers[1]) as http:
        final = wait_all(http, account, in_flight + queued, timeout=90)
        listed = http.get("/api/files/", headers=account.headers, params={"limit": 50})
    assert {s["status"] for s in final.values()} == {"completed"}, final
    assert listed.status_code == 200
    assert len(listed.json()) == 7
    assert len(blob_files(Path(running.env["VERISCAN_DATA_DIR"]))) >= 7
    assert "Traceback" not in running.logs()


def test_rate_limits_are_shared_by_the_servers(running: Cluster) -> None:
    serve_a, serve_b = running.servers
    address = f"192.0.2.{secrets.randbelow(250) + 1}"
    with client(serve_a, address=address) as a, client(serve_b, address=address) as b:
        remaining = []
        for index in range(RATE_LIMIT):
            response = (a if index % 2 == 0 else b).get("/api/auth/profile")
            assert response.status_code == 401, response.text
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        refused = b.get("/api/auth/profile")
        refused_a = a.get("/api/auth/profile")
    # One budget counted down by both servers, then refused by both.
    assert remaining == list(range(RATE_LIMIT - 1, -1, -1))
    assert_envelope(refused, 429, "RATE_LIMITED")
    assert_envelope(refused_a, 429, "RATE_LIMITED")
    assert int(refused.headers["Retry-After"]) >= 1
