"""Tags edited after upload (PATCH /api/scans/{id}/tags) and comments on scans."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer
from tests.malware.helpers import unique_content, upload
from tests.media.helpers import photo_jpeg, upload_media
from veriscan.audit.models import AuditEvent

MakeAccount = Callable[..., Account]


def media_scan(api: httpx.Client, owner: Account, tags: str = "") -> str:
    response = upload_media(api, owner, photo_jpeg(seed=3), "p.jpg", tags=tags)
    assert response.status_code in (200, 202), response.text
    return str(response.json()["data"]["id"])


def malware_scan(api: httpx.Client, owner: Account) -> str:
    return str(upload(api, owner, unique_content(), "s.txt")["scan"]["scan_id"])


def audit_events(server: LiveServer, action: str, target_id: str) -> list[AuditEvent]:
    with server.context.db.session(writes=False) as session:
        return (
            session.query(AuditEvent)
            .filter(AuditEvent.action == action, AuditEvent.target_id == target_id)
            .all()
        )


def search(api: httpx.Client, viewer: Account, text: str) -> list[str]:
    response = api.get("/api/scans/history", headers=viewer.headers, params={"search": text})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def test_owner_and_analyst_edit_tags_and_search_follows(
    api: httpx.Client, make_account: MakeAccount, server: LiveServer
) -> None:
    owner, analyst = make_account(), make_account("analyst")
    word = uuid.uuid4().hex[:10]
    scan_id = media_scan(api, owner, tags=f"old{word}, keep")
    assert search(api, owner, f"old{word}") == [scan_id]

    path = f"/api/scans/{scan_id}/tags"
    replaced = api.patch(
        path, headers=owner.headers, json={"tags": [f"  new{word} ", "keep", "KEEP", "x"]}
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["data"]["tags"] == [f"new{word}", "keep", "x"]
    assert search(api, owner, f"new{word}") == [scan_id]
    assert search(api, owner, f"old{word}") == []

    changed = api.patch(
        path, headers=analyst.headers, json={"add": [f"staff{word}", "Keep"], "remove": ["X"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["tags"] == [f"new{word}", "keep", f"staff{word}"]
    assert search(api, owner, f"staff{word}") == [scan_id]
    assert api.get(f"/api/scans/{scan_id}", headers=owner.headers).json()["data"]["tags"] == [
        f"new{word}",
        "keep",
        f"staff{word}",
    ]

    events = audit_events(server, "media.tags_changed", scan_id)
    assert [(e.actor_id, e.details) for e in events] == [
        (uuid.UUID(owner.id), {"old": [f"old{word}", "keep"], "new": [f"new{word}", "keep", "x"]}),
        (
            uuid.UUID(analyst.id),
            {"old": [f"new{word}", "keep", "x"], "new": [f"new{word}", "keep", f"staff{word}"]},
        ),
    ]


def test_another_operative_cannot_edit_tags(api: httpx.Client, make_account: MakeAccount) -> None:
    owner, other = make_account(), make_account()
    scan_id = media_scan(api, owner, tags="mine")
    response = api.patch(f"/api/scans/{scan_id}/tags", headers=other.headers, json={"tags": []})
    assert_envelope(response, 404, "NOT_FOUND")
    missing = api.patch(f"/api/scans/{uuid.uuid4()}/tags", headers=owner.headers, json={"tags": []})
    assert_envelope(missing, 404, "NOT_FOUND")
    assert api.get(f"/api/scans/{scan_id}", headers=owner.headers).json()["data"]["tags"] == [
        "mine"
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"tags": ["   "]},
        {"tags": [""]},
        {"tags": ["x" * 51]},
        {"tags": [f"t{i}" for i in range(21)]},
        {"tags": "one"},
        {"tags": ["a"], "add": ["b"]},
        {"add": [f"t{i}" for i in range(21)]},
        {"remove": [1]},
    ],
)
def test_tag_edits_are_validated(api: httpx.Client, account: Account, body: dict[str, Any]) -> None:
    scan_id = media_scan(api, account, tags="a")
    response = api.patch(f"/api/scans/{scan_id}/tags", headers=account.headers, json=body)
    assert_envelope(response, 400)


def test_adding_past_twenty_tags_is_refused(api: httpx.Client, account: Account) -> None:
    scan_id = media_scan(api, account, tags=",".join(f"t{i}" for i in range(15)))
    path = f"/api/scans/{scan_id}/tags"
    refused = api.patch(path, headers=account.headers, json={"add": [f"n{i}" for i in range(6)]})
    assert_envelope(refused, 400, "VALIDATION_ERROR")
    fits = api.patch(path, headers=account.headers, json={"add": [f"n{i}" for i in range(5)]})
    assert fits.status_code == 200, fits.text
    assert len(fits.json()["data"]["tags"]) == 20


def test_comments_on_a_media_scan(
    api: httpx.Client, make_account: MakeAccount, server: LiveServer
) -> None:
    owner, analyst, admin, other = (
        make_account(),
        make_account("analyst"),
        make_account("admin"),
        make_account(),
    )
    scan_id = media_scan(api, owner)
    path = f"/api/scans/{scan_id}/comments"
    ids = []
    for index, (author, body) in enumerate(
        [(owner, " first "), (analyst, "second"), (admin, "third"), (owner, "fourth")]
    ):
        created = api.post(path, headers=author.headers, json={"body": body})
        assert created.status_code == 201, created.text
        data = created.json()["data"]
        assert data["body"] == body.strip()
        assert (data["scanKind"], data["scanId"]) == ("media", scan_id)
        assert (data["authorId"], data["authorUsername"]) == (author.id, author.username)
        assert data["editedAt"] is None
        ids.append(data["id"])
        assert index == len(ids) - 1

    listed = api.get(path, headers=analyst.headers).json()
    assert [item["id"] for item in listed["data"]] == ids  # oldest first
    assert listed["pagination"] == {"total": 4, "page": 1, "limit": 20, "pages": 1}
    second = api.get(path, headers=owner.headers, params={"page": 2, "limit": 3}).json()
    assert [item["id"] for item in second["data"]] == ids[3:]
    assert second["pagination"] == {"total": 4, "page": 2, "limit": 3, "pages": 2}

    # Another operative does not see the scan: 404 for everything about it.
    assert_envelope(api.get(path, headers=other.headers), 404, "NOT_FOUND")
    assert_envelope(api.post(path, headers=other.headers, json={"body": "hi"}), 404, "NOT_FOUND")
    for method, json in (("PATCH", {"body": "mine now"}), ("DELETE", None)):
        response = api.request(method, f"/api/comments/{ids[0]}", headers=other.headers, json=json)
        assert_envelope(response, 404, "NOT_FOUND")

    # Only the author edits.
    for intruder in (analyst, admin):
        refused = api.patch(
            f"/api/comments/{ids[0]}", headers=intruder.headers, json={"body": "changed"}
        )
        assert_envelope(refused, 403, "FORBIDDEN")
    edited = api.patch(f"/api/comments/{ids[0]}", headers=owner.headers, json={"body": "edited"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["data"]["body"] == "edited"
    assert edited.json()["data"]["editedAt"] is not None

    # The author or an admin deletes; an analyst who is not the author may not.
    assert_envelope(api.delete(f"/api/comments/{ids[0]}", headers=analyst.headers), 403)
    assert api.delete(f"/api/comments/{ids[1]}", headers=analyst.headers).status_code == 200
    assert api.delete(f"/api/comments/{ids[0]}", headers=admin.headers).status_code == 200
    assert_envelope(api.delete(f"/api/comments/{ids[0]}", headers=admin.headers), 404)
    remaining = api.get(path, headers=owner.headers).json()["data"]
    assert [item["id"] for item in remaining] == ids[2:]

    assert [e.actor_id for e in audit_events(server, "comment.create", ids[0])] == [
        uuid.UUID(owner.id)
    ]
    edit = audit_events(server, "comment.edit", ids[0])
    assert [(e.actor_id, e.details["old"]) for e in edit] == [(uuid.UUID(owner.id), "first")]
    deleted = audit_events(server, "comment.delete", ids[0])
    assert [(e.actor_id, e.details["body"]) for e in deleted] == [(uuid.UUID(admin.id), "edited")]
    assert len(audit_events(server, "comment.delete", ids[1])) == 1


@pytest.mark.parametrize("body", [{"body": ""}, {"body": " \n "}, {"body": "x" * 5001}, {}])
def test_comment_bodies_are_validated(
    api: httpx.Client, account: Account, body: dict[str, Any]
) -> None:
    scan_id = media_scan(api, account)
    response = api.post(f"/api/scans/{scan_id}/comments", headers=account.headers, json=body)
    assert_envelope(response, 400)
    longest = api.post(
        f"/api/scans/{scan_id}/comments", headers=account.headers, json={"body": "y" * 5000}
    )
    assert longest.status_code == 201


def test_malware_scan_comments_are_the_owners_only(
    api: httpx.Client, make_account: MakeAccount
) -> None:
    owner, other, admin = make_account(), make_account(), make_account("admin")
    scan_id = malware_scan(api, owner)
    path = f"/api/scan/{scan_id}/comments"
    created = api.post(path, headers=owner.headers, json={"body": "looks bad"})
    assert created.status_code == 201, created.text
    comment_id = created.json()["data"]["id"]
    assert created.json()["data"]["scanKind"] == "malware"
    listed = api.get(path, headers=owner.headers).json()
    assert [item["id"] for item in listed["data"]] == [comment_id]
    for intruder in (other, admin):
        assert_envelope(api.get(path, headers=intruder.headers), 404, "NOT_FOUND")
        assert_envelope(api.post(path, headers=intruder.headers, json={"body": "x"}), 404)
        comment = f"/api/comments/{comment_id}"
        assert_envelope(api.patch(comment, headers=intruder.headers, json={"body": "x"}), 404)
        assert_envelope(api.delete(comment, headers=intruder.headers), 404)
    # A media scan's path does not reach a malware scan (nor the other way round).
    assert_envelope(api.get(f"/api/scans/{scan_id}/comments", headers=owner.headers), 404)
    assert api.delete(f"/api/comments/{comment_id}", headers=owner.headers).status_code == 200
    assert api.get(path, headers=owner.headers).json()["pagination"]["total"] == 0
