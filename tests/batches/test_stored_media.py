"""POST /api/files/media-scans: media scans of files already stored, the dashboard's one
upload that answers both questions (every file a malware scan, every picture, video or
recording a media scan too), and what the two scans then share."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import httpx

from tests.batches.test_batches import wait_batch
from tests.conftest import Account, assert_envelope
from tests.fixtures.hostile import mp4_video
from tests.live import LiveServer, live_server
from tests.malware.helpers import eicar_variant, unique_content, upload
from tests.media.helpers import photo_jpeg, wait_media
from veriscan.audit.models import AuditEvent


def scan_stored(
    api: httpx.Client, account: Account, ids: list[str], **extra: Any
) -> httpx.Response:
    return api.post(
        "/api/files/media-scans", headers=account.headers, json={"fileIds": ids, **extra}
    )


def test_each_stored_picture_gets_a_media_scan_and_other_files_are_told_why_not(
    api: httpx.Client, make_account: Callable[..., Account], server: LiveServer
) -> None:
    owner, stranger = make_account(), make_account()
    picture = photo_jpeg(seed=61)
    photo = upload(api, owner, picture, name="holiday.jpg")
    eicar = upload(api, owner, eicar_variant(), name="eicar.com")
    theirs = upload(api, stranger, photo_jpeg(seed=62), name="theirs.jpg")
    ids = [photo["id"], eicar["id"], theirs["id"], "not-an-id"]

    response = scan_stored(api, owner, ids, tags="case-9, holiday")
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert (data["total"], data["accepted"], data["rejected"]) == (4, 1, 3)
    items = data["items"]
    assert [(i["index"], i["status"]) for i in items] == [
        (0, "accepted"),
        (1, "rejected"),
        (2, "rejected"),
        (3, "rejected"),
    ]
    assert (items[0]["fileName"], items[0]["fileId"]) == ("holiday.jpg", photo["id"])
    assert (items[1]["fileName"], items[1]["fileId"]) == ("eicar.com", eicar["id"])
    assert items[1]["error"]["code"] == "UNSUPPORTED_MEDIA"
    assert "text/plain" in items[1]["error"]["message"]
    # Another user's file and a malformed id look the same: no such file of yours.
    for item in items[2:]:
        assert (item["fileName"], item["error"]["code"]) == ("", "NOT_FOUND")
        assert "fileId" not in item

    done = wait_batch(api, owner, data["batchId"])
    assert done["kind"] == "media"
    assert done["summary"] == {"pending": 0, "running": 0, "completed": 1, "failed": 0}
    scan = wait_media(api, owner, items[0]["scanId"])
    assert scan["status"] == "COMPLETED" and scan["result"] in (
        "AUTHENTIC",
        "SUSPICIOUS",
        "DEEPFAKE",
    )
    assert (scan["fileName"], scan["mediaType"], scan["fileSize"]) == (
        "holiday.jpg",
        "IMAGE",
        len(picture),
    )
    assert (
        scan["hash"]
        == f"sha256:{photo['hash_sha256']}"
        == f"sha256:{hashlib.sha256(picture).hexdigest()}"
    )
    assert scan["tags"] == ["case-9", "holiday"]
    # The same content, stored once, found from the file's page by its SHA-256.
    history = api.get(
        "/api/scans/history",
        headers=owner.headers,
        params={"search": photo["hash_sha256"], "scope": "own"},
    ).json()
    assert [row["id"] for row in history["data"]] == [scan["id"]]
    with server.context.db.session(writes=False) as session:
        events = session.query(AuditEvent).filter(AuditEvent.target_id == scan["id"]).all()
        assert [(e.action, e.details["file_id"]) for e in events] == [("media.upload", photo["id"])]


def test_the_media_scan_keeps_its_content_when_the_file_is_deleted(
    api: httpx.Client, account: Account
) -> None:
    picture = photo_jpeg(seed=63)
    photo = upload(api, account, picture, name="kept.jpg")
    scan_id = scan_stored(api, account, [photo["id"]]).json()["data"]["items"][0]["scanId"]
    wait_media(api, account, scan_id)
    assert api.delete(f"/api/files/{photo['id']}", headers=account.headers).status_code == 200
    served = api.get(f"/api/scans/{scan_id}/file", headers=account.headers)
    assert (served.status_code, served.content) == (200, picture)
    again = scan_stored(api, account, [photo["id"]])
    assert again.status_code == 201  # the batch, its one item rejected
    assert again.json()["data"]["items"][0]["error"]["code"] == "NOT_FOUND"


def test_a_stored_video_is_analysed_with_its_frames(api: httpx.Client, account: Account) -> None:
    video = upload(api, account, mp4_video(2.0), name="clip.mp4")
    item = scan_stored(api, account, [video["id"]]).json()["data"]["items"][0]
    scan = wait_media(api, account, item["scanId"], timeout=120)
    assert (scan["status"], scan["mediaType"]) == ("COMPLETED", "VIDEO")
    frames = scan["frames"]
    assert len(frames) == scan["metadata"]["frames_sampled"] >= 2
    times = [frame["time"] for frame in frames]
    assert times == sorted(times) and 0 <= times[0] < times[-1] <= 2.0
    assert all(0 <= frame["score"] <= 100 and frame["faces"] >= 0 for frame in frames)


def test_bad_requests(
    api: httpx.Client,
    account: Account,
    settings_factory: Callable[..., Any],
    make_account: Callable[..., Account],
) -> None:
    assert_envelope(scan_stored(api, account, []), 400, "VALIDATION_ERROR")
    assert_envelope(api.post("/api/files/media-scans", headers=account.headers, json={}), 400)
    assert_envelope(api.post("/api/files/media-scans", json={"fileIds": ["x"]}), 401)
    with (
        live_server(settings_factory(max_batch_files=2)) as live,
        httpx.Client(base_url=live.url, timeout=30) as client,
    ):
        user = make_account(on=live)
        ids = [upload(client, user, unique_content(), name=f"f{i}.txt")["id"] for i in range(3)]
        assert_envelope(scan_stored(client, user, ids), 400, "TOO_MANY_FILES")
        assert client.get("/api/batches", headers=user.headers).json()["data"] == []
