"""The deepfake document's endpoints over HTTP: uploads, visibility, history, deletion, stats."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer, live_server
from tests.media.helpers import photo_jpeg, upload_media, wait_media


def test_upload_refuses_what_is_not_media(
    api: httpx.Client, account: Account, server: LiveServer
) -> None:
    response = upload_media(
        api, account, b"Dear team\nthese are plain words and not a picture\n", "holiday.jpg"
    )
    error = assert_envelope(response, 400, "UNSUPPORTED_MEDIA")
    assert "text/plain" in error["message"]
    assert list(server.context.blobs.tmp_dir.iterdir()) == []
    assert api.get("/api/scans/history", headers=account.headers).json()["pagination"]["total"] == 0


def test_upload_errors(api: httpx.Client, account: Account) -> None:
    assert_envelope(api.post("/api/scans/upload", files={"file": ("a.jpg", photo_jpeg())}), 401)
    assert_envelope(
        api.post(
            "/api/scans/upload", headers=account.headers, data={"tags": "x"}, files={"x": ("", b"")}
        ),
        400,
    )
    assert_envelope(upload_media(api, account, photo_jpeg(), name=""), 400)
    too_many = ",".join(f"t{i}" for i in range(21))
    assert_envelope(
        upload_media(api, account, photo_jpeg(), tags=too_many), 400, "VALIDATION_ERROR"
    )


@pytest.fixture(scope="module")
def small_server(settings_factory: Callable[..., Any]) -> Iterator[LiveServer]:
    with live_server(settings_factory(max_upload_mb=1)) as live:
        yield live


def test_over_the_limit_is_413(
    small_server: LiveServer, make_account: Callable[..., Account]
) -> None:
    account = make_account(on=small_server)
    with httpx.Client(base_url=small_server.url, timeout=30) as client:
        big = photo_jpeg() + b"\0" * (1024 * 1024)
        assert_envelope(upload_media(client, account, big), 413, "PAYLOAD_TOO_LARGE")
        assert_envelope(upload_media(client, account, b"\0" * (3 * 1024 * 1024)), 413)
    assert list(small_server.context.blobs.tmp_dir.iterdir()) == []


def test_visibility_and_deletion(api: httpx.Client, make_account: Callable[..., Account]) -> None:
    owner, other, analyst, admin = (
        make_account(),
        make_account(),
        make_account("analyst"),
        make_account("admin"),
    )
    response = upload_media(api, owner, photo_jpeg(seed=1), "evidence.jpg", tags="case-7, field")
    assert response.status_code in (200, 202), response.text
    data = response.json()["data"]
    assert response.json()["success"] is True
    assert data["fileName"] == "evidence.jpg" and data["mediaType"] == "IMAGE"
    assert data["tags"] == ["case-7", "field"]
    assert data["hash"].startswith("sha256:") and len(data["hash"]) == 7 + 64
    scan_id = data["id"]
    wait_media(api, owner, scan_id)
    for viewer in (owner, analyst, admin):
        seen = api.get(f"/api/scans/{scan_id}", headers=viewer.headers)
        assert seen.status_code == 200 and seen.json()["data"]["operative"] == owner.username
    assert_envelope(api.get(f"/api/scans/{scan_id}", headers=other.headers), 404)
    assert_envelope(api.get("/api/scans/not-a-uuid", headers=owner.headers), 404)
    for item in api.get(f"/api/scans/{scan_id}", headers=owner.headers).json()["data"]["evidence"]:
        assert api.get(item["url"], headers=analyst.headers).status_code == 200
        assert_envelope(api.get(item["url"], headers=other.headers), 404)
    assert_envelope(api.get(f"/api/scans/{scan_id}/evidence/nothing", headers=owner.headers), 404)
    assert_envelope(api.get(f"/api/scans/{scan_id}/evidence/..%2F..", headers=owner.headers), 404)
    for who in (owner, analyst):
        assert_envelope(api.delete(f"/api/scans/{scan_id}", headers=who.headers), 403, "FORBIDDEN")
    deleted = api.delete(f"/api/scans/{scan_id}", headers=admin.headers)
    assert deleted.status_code == 200
    assert deleted.json() == {"success": True, "message": "Scan deleted successfully"}
    assert_envelope(api.get(f"/api/scans/{scan_id}", headers=owner.headers), 404)
    assert_envelope(api.delete(f"/api/scans/{scan_id}", headers=admin.headers), 404)
    assert_envelope(api.delete(f"/api/scans/{uuid.uuid4()}", headers=admin.headers), 404)


def test_admin_stats(api: httpx.Client, make_account: Callable[..., Account]) -> None:
    admin, analyst = make_account("admin"), make_account("analyst")
    assert_envelope(api.get("/api/admin/stats", headers=analyst.headers), 403)
    assert_envelope(api.get("/api/admin/stats"), 401)
    before = api.get("/api/admin/stats", headers=admin.headers).json()["data"]
    owner = make_account()
    upload_media(api, owner, photo_jpeg(seed=2))
    after = api.get("/api/admin/stats", headers=admin.headers)
    assert after.status_code == 200 and after.json()["success"] is True
    data = after.json()["data"]
    assert set(data) >= {"users", "scans", "system"}
    assert data["users"]["total"] == before["users"]["total"] + 1
    assert data["users"]["byRole"]["operative"] == before["users"]["byRole"]["operative"] + 1
    assert data["users"]["active"] + data["users"]["inactive"] == data["users"]["total"]
    assert data["scans"]["total"] == before["scans"]["total"] + 1
    assert data["scans"]["byMediaType"]["IMAGE"] == before["scans"]["byMediaType"]["IMAGE"] + 1
    assert data["scans"]["newLast24h"] == before["scans"]["newLast24h"] + 1
    assert set(data["scans"]["byVerdict"]) == {"DEEPFAKE", "SUSPICIOUS", "AUTHENTIC"}
    assert data["system"]["health"] == "operational" and data["system"]["uptime"] >= 0


def test_history_shape_filters_and_search(
    api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    owner = make_account()
    names = ["zebra crossing.jpg", "apple orchard.jpg", "mango grove.jpg"]
    ids = []
    # The first scan's tags hold "batch" and a word starting with "2", apart: a search for
    # "batch-2" must keep its words together and find only the third.
    tags = ["batch-0,2026", "batch-1", "batch-2"]
    for i, name in enumerate(names):
        body = upload_media(api, owner, photo_jpeg(seed=10 + i), name, tags=tags[i]).json()["data"]
        ids.append(body["id"])
        wait_media(api, owner, body["id"])
    listed = api.get("/api/scans/history", headers=owner.headers, params={"limit": 2})
    assert listed.status_code == 200
    body = listed.json()
    assert body["success"] is True
    assert body["pagination"] == {"total": 3, "page": 1, "limit": 2, "pages": 2}
    assert [item["id"] for item in body["data"]] == [ids[2], ids[1]]
    item = body["data"][0]
    assert set(item) >= {"id", "fileName", "type", "result", "score", "timestamp", "operative"}
    assert item["type"] == "IMAGE" and item["operative"] == owner.username
    # Additive: the file's SHA-256, as the original backend's history has it.
    assert item["hash"] == hashlib.sha256(photo_jpeg(seed=12)).hexdigest()
    by_name = api.get(
        "/api/scans/history",
        headers=owner.headers,
        params={"sortBy": "fileName", "sortOrder": "asc"},
    )
    assert [i["fileName"] for i in by_name.json()["data"]] == sorted(names)
    contents = [photo_jpeg(seed=10 + i) for i in range(3)]
    for query, expected in (
        (hashlib.sha256(contents[1]).hexdigest(), [ids[1]]),  # a full SHA-256
        (hashlib.sha256(contents[2]).hexdigest().upper(), [ids[2]]),
        (hashlib.sha256(contents[2]).hexdigest()[:20], []),  # not a whole hash
        ("orchard", [ids[1]]),
        ("zeb", [ids[0]]),
        ("batch-2", [ids[2]]),
        ("BATCH_1", [ids[1]]),
        (owner.username, ids[::-1]),
    ):
        found = api.get("/api/scans/history", headers=owner.headers, params={"search": query})
        assert [i["id"] for i in found.json()["data"]] == expected, query
    assert (
        api.get("/api/scans/history", headers=owner.headers, params={"mediaType": "VIDEO"}).json()[
            "data"
        ]
        == []
    )
    for bad in (
        {"page": 0},
        {"limit": 101},
        {"status": "DONE"},
        {"mediaType": "TEXT"},
        {"verdict": "FAKE"},
        {"sortBy": "size"},
        {"sortOrder": "up"},
        {"startDate": "yesterday"},
        {"startDate": "\x0b"},
        {"endDate": " 2026-01-01"},
        {"startDate": "2026-02-02", "endDate": "2026-01-01"},
    ):
        assert_envelope(api.get("/api/scans/history", headers=owner.headers, params=bad), 400)


def test_without_waiting_the_upload_answers_202(
    settings_factory: Callable[..., Any], make_account: Callable[..., Account]
) -> None:
    with (
        live_server(settings_factory(media_wait_seconds=0)) as live,
        httpx.Client(base_url=live.url) as client,
    ):
        account = make_account(on=live)
        response = upload_media(client, account, photo_jpeg(seed=4))
        assert response.status_code == 202
        assert response.json()["data"]["status"] in ("PENDING", "PROCESSING")
        assert wait_media(client, account, response.json()["data"]["id"])["status"] == "COMPLETED"


def test_prefer_respond_async_answers_at_once(api: httpx.Client, account: Account) -> None:
    """RFC 7240: a client that follows the scan itself need not wait for the analysis."""
    response = api.post(
        "/api/scans/upload",
        headers={**account.headers, "Prefer": "respond-async"},
        files={"file": ("photo.jpg", photo_jpeg(seed=41))},
    )
    assert response.status_code == 202, response.text
    assert response.headers["preference-applied"] == "respond-async"
    data = response.json()["data"]
    assert data["status"] in ("PENDING", "PROCESSING") and data["result"] is None
    assert wait_media(api, account, data["id"])["status"] == "COMPLETED"
    # Without it, the document's behaviour: the analysis is waited for.
    waited = upload_media(api, account, photo_jpeg(seed=42))
    assert waited.status_code == 200 and "preference-applied" not in waited.headers


def test_the_analysed_file_is_served_to_those_who_read_the_scan(
    api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    owner, stranger = make_account(), make_account()
    content = photo_jpeg(seed=43)
    scan_id = upload_media(api, owner, content, name="shown.jpg").json()["data"]["id"]
    served = api.get(f"/api/scans/{scan_id}/file", headers=owner.headers)
    assert served.status_code == 200 and served.content == content
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["content-disposition"].startswith("inline;")
    assert served.headers["content-security-policy"].startswith("default-src 'none'")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert_envelope(api.get(f"/api/scans/{scan_id}/file", headers=stranger.headers), 404)
    assert_envelope(api.get(f"/api/scans/{scan_id}/file"), 401)


def test_a_picture_that_can_hold_script_is_served_as_plain_bytes(
    api: httpx.Client, account: Account
) -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(document.domain)</script><rect width='10' height='10'/></svg>"
    )
    response = upload_media(api, account, svg, name="drawing.svg")
    assert response.status_code in (200, 202), response.text
    served = api.get(f"/api/scans/{response.json()['data']['id']}/file", headers=account.headers)
    assert served.status_code == 200 and served.content == svg
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["x-content-type-options"] == "nosniff"
