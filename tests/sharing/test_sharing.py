"""Sharing a scan with named users and assigning it to an analyst, for both kinds."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select, update

from tests.conftest import TEST_PASSWORD, Account, assert_envelope
from tests.live import LiveServer
from tests.malware.helpers import unique_content, upload
from tests.media.helpers import photo_jpeg, upload_media
from veriscan.accounts.models import User
from veriscan.audit.models import AuditEvent
from veriscan.cases.models import CaseScan
from veriscan.comments.models import Comment
from veriscan.sharing.models import ScanAssignment, ScanShare

MakeAccount = Callable[..., Account]


def malware_upload(api: httpx.Client, owner: Account) -> tuple[str, str]:
    body = upload(api, owner, unique_content(), "shared.txt")
    return str(body["scan"]["scan_id"]), str(body["id"])


def media_scan(api: httpx.Client, owner: Account) -> str:
    response = upload_media(api, owner, photo_jpeg(seed=11), "shared.jpg")
    assert response.status_code in (200, 202), response.text
    return str(response.json()["data"]["id"])


def malware_listing(api: httpx.Client, viewer: Account, scope: str = "all") -> list[str]:
    response = api.get(
        "/api/scan/results", headers=viewer.headers, params={"scope": scope, "per_page": 100}
    )
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["scans"]]


def media_listing(api: httpx.Client, viewer: Account, scope: str = "all") -> list[str]:
    response = api.get(
        "/api/scans/history", headers=viewer.headers, params={"scope": scope, "limit": 100}
    )
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def notifications_of(api: httpx.Client, viewer: Account) -> list[dict[str, Any]]:
    response = api.get("/api/notifications", headers=viewer.headers)
    assert response.status_code == 200, response.text
    return [n for n in response.json()["data"] if n["kind"] in ("scan.shared", "scan.assigned")]


def audit_actions(server: LiveServer, target_id: str) -> list[tuple[str, dict[str, Any]]]:
    with server.context.db.session(writes=False) as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_id == target_id, AuditEvent.action.like("scan.%"))
            .order_by(AuditEvent.created_at)
        )
        return [(row.action, row.details) for row in rows if row.action != "scan.start"]


def test_a_shared_malware_scan_is_read_listed_and_commented_by_its_recipient_only(
    api: httpx.Client, make_account: MakeAccount, server: LiveServer
) -> None:
    owner, reader, stranger = make_account(), make_account(), make_account()
    scan_id, file_id = malware_upload(api, owner)
    results = f"/api/scan/{scan_id}/results"
    assert api.get(results, headers=reader.headers).status_code == 404
    assert scan_id not in malware_listing(api, reader)

    shared = api.post(
        f"/api/scan/{scan_id}/shares", headers=owner.headers, json={"username": reader.username}
    )
    assert shared.status_code == 201, shared.text
    data = shared.json()["data"]
    assert data["scanKind"] == "malware" and data["scanId"] == scan_id
    assert data["user"] == {
        "id": reader.id,
        "username": reader.username,
        "name": data["user"]["name"],
        "role": "operative",
    }
    assert data["sharedBy"] == owner.id

    assert api.get(results, headers=reader.headers).status_code == 200
    assert api.get(f"/api/scan/{scan_id}/status", headers=reader.headers).status_code == 200
    assert scan_id in malware_listing(api, reader)
    assert scan_id in malware_listing(api, reader, "shared")
    assert scan_id not in malware_listing(api, reader, "own")
    assert scan_id in malware_listing(api, owner, "own")
    assert scan_id not in malware_listing(api, owner, "shared")
    # The share reaches the scan, not the owner's file, keys or other scans.
    assert api.get(f"/api/files/{file_id}", headers=reader.headers).status_code == 404
    other_scan, _ = malware_upload(api, owner)
    assert api.get(f"/api/scan/{other_scan}/results", headers=reader.headers).status_code == 404

    comment = api.post(
        f"/api/scan/{scan_id}/comments", headers=reader.headers, json={"body": "seen it"}
    )
    assert comment.status_code == 201, comment.text
    listed = api.get(f"/api/scan/{scan_id}/shares", headers=reader.headers)
    assert [s["user"]["id"] for s in listed.json()["data"]] == [reader.id]

    # A reader does not pass the scan on, nor assign it.
    onward = api.post(
        f"/api/scan/{scan_id}/shares", headers=reader.headers, json={"userId": stranger.id}
    )
    assert_envelope(onward, 403, "FORBIDDEN")
    for path in (results, f"/api/scan/{scan_id}/shares", f"/api/scan/{scan_id}/assignment"):
        assert_envelope(api.get(path, headers=stranger.headers), 404, "NOT_FOUND")

    notes = notifications_of(api, reader)
    assert [(n["kind"], n["scanKind"], n["scanId"], n["message"]) for n in notes] == [
        ("scan.shared", "malware", scan_id, "shared.txt")
    ]
    assert notes[0]["title"] == f"{owner.username} shared a malware scan with you"

    # The recipient leaves; then nothing is left.
    left = api.delete(f"/api/scan/{scan_id}/shares/{reader.id}", headers=reader.headers)
    assert left.status_code == 200, left.text
    assert_envelope(api.get(results, headers=reader.headers), 404, "NOT_FOUND")
    assert scan_id not in malware_listing(api, reader)
    assert audit_actions(server, scan_id) == [
        ("scan.share", {"user_id": reader.id, "username": reader.username}),
        ("scan.unshare", {"user_id": reader.id}),
    ]


def test_sharing_refuses_what_makes_no_sense(
    api: httpx.Client, make_account: MakeAccount, server: LiveServer
) -> None:
    owner, reader, inactive = make_account(), make_account(), make_account()
    scan_id, _ = malware_upload(api, owner)
    path = f"/api/scan/{scan_id}/shares"
    first = api.post(path, headers=owner.headers, json={"userId": reader.id})
    assert first.status_code == 201, first.text
    assert_envelope(
        api.post(path, headers=owner.headers, json={"userId": reader.id}), 409, "CONFLICT"
    )
    assert_envelope(
        api.post(path, headers=owner.headers, json={"username": owner.username}),
        400,
        "VALIDATION_ERROR",
    )
    assert_envelope(
        api.post(path, headers=owner.headers, json={"username": "no-such-user-here"}),
        404,
        "NOT_FOUND",
    )
    for body in ({}, {"userId": reader.id, "username": reader.username}, {"user": reader.id}):
        assert_envelope(api.post(path, headers=owner.headers, json=body), 400, "VALIDATION_ERROR")
    with server.context.db.session() as session:
        session.execute(
            update(User).where(User.id == uuid.UUID(inactive.id)).values(is_active=False)
        )
    assert_envelope(
        api.post(path, headers=owner.headers, json={"userId": inactive.id}),
        400,
        "VALIDATION_ERROR",
    )
    assert_envelope(api.delete(f"{path}/{inactive.id}", headers=owner.headers), 404, "NOT_FOUND")
    assert_envelope(
        api.post("/api/scan/not-a-uuid/shares", headers=owner.headers, json={"userId": reader.id}),
        404,
        "NOT_FOUND",
    )


def test_assigning_a_malware_scan_to_an_analyst(
    api: httpx.Client, make_account: MakeAccount, server: LiveServer
) -> None:
    owner, analyst, other_analyst, operative = (
        make_account(),
        make_account("analyst"),
        make_account("analyst"),
        make_account(),
    )
    scan_id, _ = malware_upload(api, owner)
    path = f"/api/scan/{scan_id}/assignment"
    # Malware scans are their owner's: an analyst reads one only once it is assigned.
    assert_envelope(
        api.get(f"/api/scan/{scan_id}/results", headers=analyst.headers), 404, "NOT_FOUND"
    )
    assert api.get(path, headers=owner.headers).json() == {"success": True, "data": None}
    assert_envelope(
        api.put(path, headers=owner.headers, json={"userId": operative.id}),
        400,
        "VALIDATION_ERROR",
    )

    assigned = api.put(path, headers=owner.headers, json={"username": analyst.username})
    assert assigned.status_code == 200, assigned.text
    data = assigned.json()["data"]
    assert (data["assignee"]["id"], data["assignee"]["role"], data["assignedBy"]) == (
        analyst.id,
        "analyst",
        owner.id,
    )
    assert api.get(f"/api/scan/{scan_id}/results", headers=analyst.headers).status_code == 200
    assert malware_listing(api, analyst, "assigned") == [scan_id]
    assert scan_id in malware_listing(api, analyst)
    assert api.get(path, headers=analyst.headers).json()["data"]["assignee"]["id"] == analyst.id
    assert [n["kind"] for n in notifications_of(api, analyst)] == ["scan.assigned"]

    # The assignee hands it on; the first analyst no longer reads it.
    handed = api.put(path, headers=analyst.headers, json={"userId": other_analyst.id})
    assert handed.status_code == 200, handed.text
    assert_envelope(
        api.get(f"/api/scan/{scan_id}/results", headers=analyst.headers), 404, "NOT_FOUND"
    )
    assert malware_listing(api, other_analyst, "assigned") == [scan_id]
    # Someone who only reads the scan does not assign it.
    api.post(f"/api/scan/{scan_id}/shares", headers=owner.headers, json={"userId": operative.id})
    assert_envelope(
        api.put(path, headers=operative.headers, json={"userId": analyst.id}), 403, "FORBIDDEN"
    )
    assert_envelope(api.delete(path, headers=operative.headers), 403, "FORBIDDEN")

    removed = api.delete(path, headers=other_analyst.headers)
    assert removed.status_code == 200, removed.text
    assert api.get(path, headers=owner.headers).json()["data"] is None
    assert_envelope(api.delete(path, headers=owner.headers), 404, "NOT_FOUND")
    assert malware_listing(api, other_analyst, "assigned") == []
    assert [a for a, _ in audit_actions(server, scan_id)] == [
        "scan.assign",
        "scan.assign",
        "scan.share",
        "scan.unassign",
    ]


def test_media_scans_shared_with_operatives_and_managed_by_staff(
    api: httpx.Client, make_account: MakeAccount, server: LiveServer
) -> None:
    owner, reader, analyst, admin = (
        make_account(),
        make_account(),
        make_account("analyst"),
        make_account("admin"),
    )
    scan_id = media_scan(api, owner)
    assert_envelope(api.get(f"/api/scans/{scan_id}", headers=reader.headers), 404, "NOT_FOUND")
    # Analysts read every media scan, so they may share one they do not own.
    shared = api.post(
        f"/api/scans/{scan_id}/shares", headers=analyst.headers, json={"userId": reader.id}
    )
    assert shared.status_code == 201, shared.text
    assert api.get(f"/api/scans/{scan_id}", headers=reader.headers).status_code == 200
    assert media_listing(api, reader) == [scan_id]
    assert media_listing(api, reader, "shared") == [scan_id]
    assert media_listing(api, reader, "own") == []
    # A reader comments but does not edit the tags.
    assert_envelope(
        api.patch(f"/api/scans/{scan_id}/tags", headers=reader.headers, json={"tags": ["x"]}),
        403,
        "FORBIDDEN",
    )
    comment = api.post(
        f"/api/scans/{scan_id}/comments", headers=reader.headers, json={"body": "looks odd"}
    )
    assert comment.status_code == 201, comment.text
    assigned = api.put(
        f"/api/scans/{scan_id}/assignment", headers=owner.headers, json={"userId": analyst.id}
    )
    assert assigned.status_code == 200, assigned.text
    assert media_listing(api, analyst, "assigned") == [scan_id]

    # Deleting the scan takes its shares, assignment and comments with it.
    deleted = api.delete(f"/api/scans/{scan_id}", headers=admin.headers)
    assert deleted.status_code == 200, deleted.text
    assert left_behind(server, scan_id) == (0, 0, 0, 0)
    assert media_listing(api, reader) == []


def left_behind(server: LiveServer, scan_id: str) -> tuple[int, ...]:
    key = uuid.UUID(scan_id)
    with server.context.db.session(writes=False) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model).where(model.scan_id == key)) or 0
            for model in (ScanShare, ScanAssignment, CaseScan, Comment)
        )


def test_deleting_a_file_forgets_its_scans_shares_and_comments(
    api: httpx.Client, make_account: MakeAccount, server: LiveServer
) -> None:
    owner, reader, analyst = make_account(), make_account(), make_account("analyst")
    scan_id, file_id = malware_upload(api, owner)
    api.post(f"/api/scan/{scan_id}/shares", headers=owner.headers, json={"userId": reader.id})
    api.put(f"/api/scan/{scan_id}/assignment", headers=owner.headers, json={"userId": analyst.id})
    api.post(f"/api/scan/{scan_id}/comments", headers=reader.headers, json={"body": "hm"})
    assert left_behind(server, scan_id) == (1, 1, 0, 1)
    deleted = api.delete(f"/api/files/{file_id}", headers=owner.headers)
    assert deleted.status_code == 200, deleted.text
    assert left_behind(server, scan_id) == (0, 0, 0, 0)
    assert malware_listing(api, reader) == []


def test_a_bulk_export_holds_what_the_listing_holds(
    api: httpx.Client, make_account: MakeAccount
) -> None:
    owner, reader = make_account(), make_account()
    scan_id, _ = malware_upload(api, owner)
    api.post(f"/api/scan/{scan_id}/shares", headers=owner.headers, json={"userId": reader.id})
    mine, _ = malware_upload(api, reader)
    for scope, expected in (("all", {scan_id, mine}), ("shared", {scan_id}), ("own", {mine})):
        exported = api.get(
            "/api/scan/export", headers=reader.headers, params={"format": "json", "scope": scope}
        )
        assert exported.status_code == 200, exported.text
        assert {item["scan_id"] for item in exported.json()} == expected


def test_people_to_share_with_can_be_looked_up(
    api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    caller = make_account()
    stem = "pick" + secrets.token_hex(3)
    people = [make_account_named(api, f"{stem}_{n}") for n in ("anna", "bert")]
    found = api.get("/api/users/lookup", headers=caller.headers, params={"q": stem.upper()})
    assert found.status_code == 200, found.text
    assert found.json() == {
        "data": [{"username": p, "name": p, "role": "operative"} for p in sorted(people)]
    }
    # Literal: % and _ are not wildcards; never the caller; nobody under two characters.
    assert api.get("/api/users/lookup", headers=caller.headers, params={"q": "%%"}).json() == {
        "data": []
    }
    assert api.get(
        "/api/users/lookup", headers=caller.headers, params={"q": caller.username}
    ).json() == {"data": []}
    for short in ({"q": "a"}, {}):
        listed = api.get("/api/users/lookup", headers=caller.headers, params=short)
        assert listed.status_code == 200 and listed.json() == {"data": []}
    assert_envelope(api.get("/api/users/lookup", params={"q": stem}), 401)


def make_account_named(api: httpx.Client, username: str) -> str:
    created = api.post(
        "/api/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": TEST_PASSWORD},
    )
    assert created.status_code == 201, created.text
    return username
