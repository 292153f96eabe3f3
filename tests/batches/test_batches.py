"""Batch uploads: POST /api/scans/batch, POST /api/files/batch, GET /api/batches."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer, live_server
from tests.malware.helpers import eicar_variant, unique_content
from tests.media.helpers import photo_jpeg
from veriscan.audit.models import AuditEvent

Files = list[tuple[str, tuple[str, bytes]]]


def post_batch(
    client: httpx.Client, account: Account, path: str, files: Files, **data: str
) -> httpx.Response:
    return client.post(path, headers=account.headers, files=files, data=data or None)


def wait_batch(
    client: httpx.Client, account: Account, batch_id: str, timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/api/batches/{batch_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        summary = data["summary"]
        if summary["pending"] == 0 and summary["running"] == 0:
            return data
        assert time.monotonic() < deadline, f"batch still running: {summary}"
        time.sleep(0.1)


def test_a_media_batch_accepts_each_file_on_its_own(
    api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    account = make_account()
    files: Files = [("files", (f"photo-{seed}.jpg", photo_jpeg(seed=seed))) for seed in range(3)]
    files += [("files", ("notes.txt", b"just some text\n")), ("file", ("empty.jpg", b""))]
    response = post_batch(api, account, "/api/scans/batch", files, tags="case-7, batch")
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert (data["total"], data["accepted"], data["rejected"]) == (5, 3, 2)
    items = data["items"]
    assert [item["index"] for item in items] == [0, 1, 2, 3, 4]
    assert [item["status"] for item in items] == ["accepted"] * 3 + ["rejected"] * 2
    assert items[3]["error"]["code"] == "UNSUPPORTED_MEDIA"
    assert items[4]["error"]["code"] == "EMPTY_FILE"
    assert all(item["scanId"] for item in items[:3])

    done = wait_batch(api, account, data["batchId"])
    assert done["kind"] == "media"
    assert done["summary"] == {"pending": 0, "running": 0, "completed": 3, "failed": 0}
    assert sorted(scan["scanId"] for scan in done["scans"]) == sorted(
        item["scanId"] for item in items[:3]
    )
    for scan in done["scans"]:
        assert scan["result"] in ("AUTHENTIC", "SUSPICIOUS", "DEEPFAKE")
        assert isinstance(scan["riskScore"], int)
    one = api.get(f"/api/scans/{items[0]['scanId']}", headers=account.headers).json()["data"]
    assert one["tags"] == ["case-7", "batch"]
    assert one["fileName"] == "photo-0.jpg"


def test_a_malware_batch_scans_every_file(
    api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    account = make_account()  # no VirusTotal key: the local engines scan
    files: Files = [
        ("files", ("eicar.com", eicar_variant())),
        ("files", ("clean.txt", unique_content())),
    ]
    response = post_batch(api, account, "/api/files/batch", files)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert (data["total"], data["accepted"], data["rejected"]) == (2, 2, 0)
    assert all(item["fileId"] and item["scanId"] for item in data["items"])

    done = wait_batch(api, account, data["batchId"])
    assert done["kind"] == "malware"
    assert done["summary"]["completed"] == 2
    ratios = {scan["fileName"]: scan["detectionRatio"] for scan in done["scans"]}
    assert ratios == {"eicar.com": "1/1", "clean.txt": "0/1"}
    listed = api.get("/api/files/", headers=account.headers).json()
    assert sorted(file["filename"] for file in listed) == ["clean.txt", "eicar.com"]


def test_more_files_than_allowed_is_refused_and_leaves_nothing(
    settings_factory: Callable[..., Any], make_account: Callable[..., Account]
) -> None:
    with (
        live_server(settings_factory(max_batch_files=2)) as live,
        httpx.Client(base_url=live.url, timeout=30) as client,
    ):
        account = make_account(on=live)
        files: Files = [("files", (f"f{i}.txt", unique_content())) for i in range(3)]
        for path in ("/api/files/batch", "/api/scans/batch"):
            response = post_batch(client, account, path, files)
            assert_envelope(response, 400, "TOO_MANY_FILES")
        assert client.get("/api/files/", headers=account.headers).json() == []
        listed = client.get("/api/batches", headers=account.headers).json()
        assert listed["data"] == [] and listed["pagination"]["total"] == 0
        assert list(live.context.blobs.tmp_dir.iterdir()) == []
        ok = post_batch(client, account, "/api/files/batch", files[:2])
        assert ok.status_code == 201, ok.text


def test_a_file_over_the_limit_is_rejected_alone(
    settings_factory: Callable[..., Any], make_account: Callable[..., Account]
) -> None:
    with (
        live_server(settings_factory(max_upload_mb=1)) as live,
        httpx.Client(base_url=live.url, timeout=30) as client,
    ):
        account = make_account(on=live)
        big = unique_content() * (1024 * 1024 // 40 + 2000)
        assert len(big) > 1024 * 1024
        files: Files = [
            ("files", ("small.txt", unique_content())),
            ("files", ("big.bin", big)),
            ("files", ("other.txt", unique_content())),
        ]
        response = post_batch(client, account, "/api/files/batch", files)
        assert response.status_code == 201, response.text
        items = response.json()["data"]["items"]
        assert [item["status"] for item in items] == ["accepted", "rejected", "accepted"]
        assert items[1]["error"]["code"] == "FILE_TOO_LARGE"
        listed = client.get("/api/files/", headers=account.headers).json()
        assert sorted(file["filename"] for file in listed) == ["other.txt", "small.txt"]

        media: Files = [
            ("files", ("a.jpg", photo_jpeg(seed=1))),
            ("files", ("big.jpg", photo_jpeg(seed=2) + big)),
        ]
        response = post_batch(client, account, "/api/scans/batch", media)
        assert response.status_code == 201, response.text
        items = response.json()["data"]["items"]
        assert [item["status"] for item in items] == ["accepted", "rejected"]
        assert items[1]["error"]["code"] == "PAYLOAD_TOO_LARGE"
        deadline = time.monotonic() + 10
        while list(live.context.blobs.tmp_dir.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(live.context.blobs.tmp_dir.iterdir()) == []

        with live.context.db.session(writes=False) as session:
            actions = [event.action for event in session.query(AuditEvent).all()]
        assert actions.count("batch.upload") == 2
        assert actions.count("file.upload") == 2
        assert actions.count("media.upload") == 1


def test_who_sees_a_batch(
    api: httpx.Client, make_account: Callable[..., Account], server: LiveServer
) -> None:
    owner = make_account()
    media = post_batch(
        api, owner, "/api/scans/batch", [("files", ("p.jpg", photo_jpeg(seed=5)))]
    ).json()["data"]["batchId"]
    malware = post_batch(
        api, owner, "/api/files/batch", [("files", ("x.txt", unique_content()))]
    ).json()["data"]["batchId"]
    other, analyst, admin = make_account(), make_account("analyst"), make_account("admin")
    for batch_id in (media, malware):
        assert api.get(f"/api/batches/{batch_id}", headers=owner.headers).status_code == 200
        response = api.get(f"/api/batches/{batch_id}", headers=other.headers)
        assert_envelope(response, 404, "NOT_FOUND")
    for staff in (analyst, admin):
        assert api.get(f"/api/batches/{media}", headers=staff.headers).status_code == 200
        response = api.get(f"/api/batches/{malware}", headers=staff.headers)
        assert_envelope(response, 404, "NOT_FOUND")
        # Listings hold only the caller's own batches.
        assert api.get("/api/batches", headers=staff.headers).json()["data"] == []
    assert_envelope(api.get("/api/batches/not-a-uuid", headers=owner.headers), 404)
    assert_envelope(api.get("/api/batches"), 401)


def test_batches_are_listed_newest_first_page_by_page(
    api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    account = make_account()
    made = []
    for index in range(3):
        body = post_batch(
            api, account, "/api/files/batch", [("files", (f"{index}.txt", unique_content()))]
        )
        assert body.status_code == 201, body.text
        made.append(body.json()["data"]["batchId"])
    first = api.get("/api/batches", headers=account.headers, params={"limit": 2}).json()
    assert first["pagination"] == {"total": 3, "page": 1, "limit": 2, "pages": 2}
    second = api.get("/api/batches", headers=account.headers, params={"limit": 2, "page": 2}).json()
    ids = [item["batchId"] for item in first["data"] + second["data"]]
    assert ids == list(reversed(made))
    assert first["data"][0] == {
        "batchId": made[2],
        "kind": "malware",
        "createdAt": first["data"][0]["createdAt"],
        "total": 1,
        "accepted": 1,
        "rejected": 0,
    }
