"""In-app notifications of finished scans, over HTTP and socket.io."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select, update

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer, live_server
from tests.malware.helpers import (
    add_key,
    eicar_variant,
    results,
    unique_content,
    upload,
    wait_for,
)
from tests.media.helpers import photo_jpeg, upload_media
from tests.notifications.helpers import listening, notifications, set_preferences
from veriscan.core.config import Settings
from veriscan.core.db import utcnow
from veriscan.notifications import service
from veriscan.notifications.models import Notification, NotificationCount


def seed(server: LiveServer, account: Account, count: int) -> list[str]:
    """Notifications made by the service itself, oldest first (no scan needed)."""
    context = server.context
    ids = []
    for i in range(count):
        with context.db.session() as session:
            delivery = service.notify_scan_finished(
                session,
                context,
                service.malware_finished(
                    user_id=uuid.UUID(account.id),
                    scan_id=uuid.uuid4(),
                    file_name=f"seed-{i}.bin",
                    malicious=0,
                    detection_ratio="0/1",
                    error=None,
                ),
            )
        assert delivery.event is not None
        ids.append(delivery.event["id"])
    return ids


def test_malware_found_is_critical_and_a_clean_file_is_info(
    server: LiveServer, api: httpx.Client, account: Account, vt: Any
) -> None:
    add_key(api, account, vt)
    bad = upload(api, account, eicar_variant(), "invoice.exe")["scan"]["scan_id"]
    assert wait_for(api, account, bad)["status"] == "completed"
    good = upload(api, account, unique_content(), "notes.txt")["scan"]["scan_id"]
    assert wait_for(api, account, good)["status"] == "completed"

    body = notifications(api, account)
    assert body["success"] is True and body["unread"] == 2
    clean, critical = body["data"]  # newest first
    assert critical["scanId"] == bad and critical["scanKind"] == "malware"
    assert critical["kind"] == "scan.completed" and critical["severity"] == "critical"
    assert critical["title"] == "Malware found in invoice.exe"
    assert "verdict MALICIOUS" in critical["message"] and "9/9" in critical["message"]
    assert critical["read"] is False and critical["readAt"] is None
    assert clean["scanId"] == good and clean["severity"] == "info"
    assert clean["title"] == "No malware found in notes.txt"
    assert "verdict CLEAN" in clean["message"]


def test_a_failed_scan_notifies_with_its_reason(api: httpx.Client, account: Account) -> None:
    response = upload_media(api, account, photo_jpeg(seed=3)[:400], "cut.jpg")
    assert response.status_code == 200, response.text
    scan = response.json()["data"]
    assert scan["status"] == "FAILED"

    [failure] = notifications(api, account)["data"]
    assert failure["scanId"] == scan["id"] and failure["scanKind"] == "media"
    assert failure["kind"] == "scan.failed" and failure["severity"] == "info"
    assert failure["title"] == "Scan failed: cut.jpg"
    assert failure["message"] == (
        "The media analysis of cut.jpg failed: The file could not be analysed: "
        "image is corrupt or truncated: Truncated File Read"
    )


def test_the_owner_hears_notification_new_and_nobody_else(
    server: LiveServer, api: httpx.Client, make_account: Callable[..., Account], vt: Any
) -> None:
    owner, other = make_account(), make_account()
    add_key(api, owner, vt)
    seed(server, owner, 1)  # one unread already
    with (
        listening(server, owner.access_token) as mine,
        listening(server, other.access_token) as theirs,
    ):
        scan_id = upload(api, owner, eicar_variant(), "dropper.js")["scan"]["scan_id"]
        event = mine.wait_for(scan_id)
        wait_for(api, owner, scan_id)
    stored = notifications(api, owner)["data"][0]
    assert event == {
        "id": stored["id"],
        "kind": "scan.completed",
        "severity": "critical",
        "title": "Malware found in dropper.js",
        "message": stored["message"],
        "scanKind": "malware",
        "scanId": scan_id,
        "createdAt": event["createdAt"],
        "unread": 2,
    }
    assert theirs.received == []


def test_unread_count_read_read_all_and_delete(
    server: LiveServer, api: httpx.Client, account: Account
) -> None:
    first, second, third = seed(server, account, 3)
    count = api.get("/api/notifications/unread-count", headers=account.headers)
    assert count.json() == {"success": True, "data": {"unread": 3}}

    read = api.post(f"/api/notifications/{second}/read", headers=account.headers)
    assert read.status_code == 200, read.text
    assert read.json()["data"]["read"] is True and read.json()["data"]["readAt"]
    again = api.post(f"/api/notifications/{second}/read", headers=account.headers)
    assert again.json()["data"]["readAt"] == read.json()["data"]["readAt"]  # idempotent
    unread = notifications(api, account, unread="true")
    assert [n["id"] for n in unread["data"]] == [third, first] and unread["unread"] == 2

    read_all = api.post("/api/notifications/read-all", headers=account.headers)
    assert read_all.json() == {"success": True, "data": {"marked": 2, "unread": 0}}
    assert notifications(api, account, unread="true")["data"] == []

    deleted = api.delete(f"/api/notifications/{first}", headers=account.headers)
    assert deleted.status_code == 200 and deleted.json()["success"] is True
    assert [n["id"] for n in notifications(api, account)["data"]] == [third, second]
    assert_envelope(
        api.delete(f"/api/notifications/{first}", headers=account.headers), 404, "NOT_FOUND"
    )


def test_the_kept_unread_count_follows_every_change(
    server: LiveServer, api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    """The unread count is one row the database keeps (migration 0014): it matches the rows
    through new notifications, reads, a read notification marked unread again, deletions
    of read and unread ones, and another user's changes never move it."""
    owner, other = make_account(), make_account()

    def kept_and_counted(account: Account) -> tuple[int | None, int]:
        user_id = uuid.UUID(account.id)
        with server.context.db.session(writes=False) as session:
            kept = session.scalar(
                select(NotificationCount.unread).where(NotificationCount.user_id == user_id)
            )
            counted = session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            )
        return kept, int(counted or 0)

    def unread(account: Account) -> int:
        body = api.get("/api/notifications/unread-count", headers=account.headers).json()
        count: int = body["data"]["unread"]
        return count

    assert kept_and_counted(owner) == (None, 0) and unread(owner) == 0
    first, second, third, fourth = seed(server, owner, 4)
    seed(server, other, 2)
    assert (kept_and_counted(owner), unread(owner)) == ((4, 4), 4)
    api.post(f"/api/notifications/{second}/read", headers=owner.headers).raise_for_status()
    api.post(f"/api/notifications/{second}/read", headers=owner.headers).raise_for_status()
    assert (kept_and_counted(owner), unread(owner)) == ((3, 3), 3)
    api.delete(f"/api/notifications/{first}", headers=owner.headers).raise_for_status()
    api.delete(f"/api/notifications/{second}", headers=owner.headers).raise_for_status()
    assert (kept_and_counted(owner), unread(owner)) == ((2, 2), 2)
    with server.context.db.session() as session:  # marked unread again (no endpoint does)
        session.execute(
            update(Notification)
            .where(Notification.id.in_([uuid.UUID(third), uuid.UUID(fourth)]))
            .values(read_at=utcnow())
        )
        session.execute(
            update(Notification).where(Notification.id == uuid.UUID(fourth)).values(read_at=None)
        )
    assert (kept_and_counted(owner), unread(owner)) == ((1, 1), 1)
    read_all = api.post("/api/notifications/read-all", headers=owner.headers)
    assert read_all.json() == {"success": True, "data": {"marked": 1, "unread": 0}}
    assert kept_and_counted(owner) == (0, 0)
    assert (kept_and_counted(other), unread(other)) == ((2, 2), 2)


def test_pagination_newest_first(server: LiveServer, api: httpx.Client, account: Account) -> None:
    ids = seed(server, account, 5)
    page1 = notifications(api, account, page=1, per_page=2)
    page3 = notifications(api, account, page=3, per_page=2)
    assert [n["id"] for n in page1["data"]] == [ids[4], ids[3]]
    assert [n["id"] for n in page3["data"]] == [ids[0]]
    assert page1["pagination"] == {"page": 1, "per_page": 2, "total": 5, "pages": 3}
    assert page1["unread"] == 5
    assert_envelope(
        api.get("/api/notifications", headers=account.headers, params={"per_page": 0}), 400
    )


def test_other_users_get_404_and_never_see_them(
    server: LiveServer, api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    owner, other, admin = make_account(), make_account(), make_account("admin")
    [mine] = seed(server, owner, 1)
    for intruder in (other, admin):
        assert notifications(api, intruder)["data"] == []
        headers = intruder.headers
        read = api.post(f"/api/notifications/{mine}/read", headers=headers)
        assert_envelope(read, 404, "NOT_FOUND")
        gone = api.delete(f"/api/notifications/{mine}", headers=headers)
        assert_envelope(gone, 404, "NOT_FOUND")
        api.post("/api/notifications/read-all", headers=headers)
    assert notifications(api, owner)["unread"] == 1
    assert_envelope(api.post("/api/notifications/not-a-uuid/read", headers=owner.headers), 404)
    assert_envelope(api.get("/api/notifications"), 401, "UNAUTHORIZED")


def test_preferences_in_app_off_stores_nothing(
    api: httpx.Client, account: Account, vt: Any
) -> None:
    defaults = api.get("/api/notifications/preferences", headers=account.headers)
    assert defaults.json() == {"success": True, "data": {"inApp": True, "email": "never"}}
    assert set_preferences(api, account, inApp=False) == {"inApp": False, "email": "never"}
    assert set_preferences(api, account, email="critical") == {
        "inApp": False,
        "email": "critical",
    }
    for bad in ({"email": "sometimes"}, {"inApp": "no"}, {"unknown": 1}):
        response = api.put("/api/notifications/preferences", headers=account.headers, json=bad)
        assert_envelope(response, 400, "VALIDATION_ERROR")

    add_key(api, account, vt)
    scan_id = upload(api, account, eicar_variant())["scan"]["scan_id"]
    assert wait_for(api, account, scan_id)["status"] == "completed"
    assert notifications(api, account)["data"] == []


def test_openapi_documents_the_routes_and_their_errors(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert set(paths["/api/notifications/{notification_id}/read"]["post"]["responses"]) >= {
        "200",
        "401",
        "404",
    }
    for path in ("/unread-count", "/read-all", "/preferences", ""):
        assert f"/api/notifications{path}" in paths


def test_a_scan_past_its_deadline_notifies_once(
    settings_factory: Callable[..., Settings], make_account: Callable[..., Account], vt: Any
) -> None:
    """VirusTotal never answers before the deadline: the scan completes with its local
    verdict, worded as such, and notifies once."""
    settings = settings_factory(scan_deadline_seconds=1.5, sweep_interval_seconds=0.2)
    with live_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        account = make_account(on=live)
        add_key(client, account, vt)
        vt.set_offline(True)
        try:
            scan_id = upload(client, account, unique_content(), "late.bin")["scan"]["scan_id"]
            assert wait_for(client, account, scan_id, timeout=15)["status"] == "completed"
        finally:
            vt.set_offline(False)
        time.sleep(1.0)  # the sweeper and the worker have both had their say
        [notice] = notifications(client, account)["data"]
    assert notice["scanId"] == scan_id and notice["kind"] == "scan.completed"
    assert notice["title"] == "No local rule matched late.bin"
    assert notice["message"] == (
        "The malware scan of late.bin completed with the local engines only: no local rule "
        "matched (detection ratio 0/1). VirusTotal: VirusTotal did not answer before the "
        "scan's deadline"
    )


def test_a_notification_that_cannot_be_stored_never_costs_the_scan_its_result(
    settings_factory: Callable[..., Settings],
    make_account: Callable[..., Account],
    log_capture: Any,
) -> None:
    """The notification is written in the scan's final transaction behind a savepoint:
    when its table cannot take it (here, it is gone), the scan still completes with its
    verdict rows, and the failure is logged."""
    from sqlalchemy import text

    from veriscan.malware import runner

    settings = settings_factory(workers=0)
    with live_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        account = make_account(on=live)
        with live.context.db.session() as session:
            session.execute(text("ALTER TABLE notifications RENAME TO notifications_gone"))
        scan_id = upload(client, account, eicar_variant())["scan"]["scan_id"]
        runner.run_scan(live.context, uuid.UUID(scan_id))
        body = results(client, account, scan_id)
    assert body["status"] == "completed" and body["detection_ratio"] == "1/1"
    assert [(r["engine_name"], r["category"]) for r in body["results"]] == [("YARA-X", "malicious")]
    assert f"notifications.record_failed scan_id={scan_id}" in log_capture.text()


def test_a_notification_failing_after_its_insert_leaves_no_row(
    settings_factory: Callable[..., Settings],
    make_account: Callable[..., Account],
    log_capture: Any,
) -> None:
    """The savepoint matters on SQLite too, where a failed statement does not end the
    transaction: the notification's row went in, the unread count read after it fails,
    and the row is rolled back with the savepoint while the scan keeps its verdict."""
    from sqlalchemy import text

    from veriscan.malware import runner

    settings = settings_factory(workers=0)
    with live_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        account = make_account(on=live)
        with live.context.db.session() as session:
            if live.context.db.is_sqlite:
                for trigger in ("insert", "delete", "update"):
                    session.execute(text(f"DROP TRIGGER notification_counts_{trigger}"))
            else:
                session.execute(
                    text("DROP TRIGGER notification_counts_insert_delete ON notifications")
                )
                session.execute(text("DROP TRIGGER notification_counts_update ON notifications"))
            session.execute(text("ALTER TABLE notification_counts RENAME TO counts_gone"))
        scan_id = upload(client, account, eicar_variant())["scan"]["scan_id"]
        runner.run_scan(live.context, uuid.UUID(scan_id))
        body = results(client, account, scan_id)
        with live.context.db.session(writes=False) as session:
            stored = session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.scan_id == uuid.UUID(scan_id))
            )
    assert body["status"] == "completed" and body["detection_ratio"] == "1/1"
    assert f"notifications.record_failed scan_id={scan_id}" in log_capture.text()
    assert stored == 0
