"""Cases: create, list, read, change and delete; members, scans, notes and the audit."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.cases.helpers import (
    MakeAccount,
    add_scan,
    audit_events,
    create_case,
    malware_scan,
    media_scan,
)
from tests.conftest import Account, assert_envelope
from tests.live import LiveServer


def user_ref(account: Account) -> dict[str, str]:
    return {"id": account.id, "username": account.username}


def test_create_read_and_list(api: httpx.Client, make_account: MakeAccount) -> None:
    creator, lead, helper = make_account(), make_account("analyst"), make_account()
    created = api.post(
        "/api/cases",
        headers=creator.headers,
        json={
            "title": "  Phishing wave  ",
            "description": "Mails with fake invoices",
            "priority": "high",
            "ownerId": lead.id,
            "memberIds": [helper.id, helper.id, lead.id],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["success"] is True
    data = body["data"]
    assert data["title"] == "Phishing wave"
    assert data["description"] == "Mails with fake invoices"
    assert (data["status"], data["priority"]) == ("open", "high")
    assert data["owner"]["id"] == lead.id
    assert data["owner"]["username"] == lead.username
    assert data["createdBy"] == user_ref(creator)
    assert data["closedAt"] is None
    assert data["createdAt"] == data["updatedAt"]
    # The creator (not the owner) joins; the owner is not listed again; duplicates drop.
    assert [(m["id"], m["role"]) for m in data["members"]] == [
        (creator.id, "operative"),
        (helper.id, "operative"),
    ]
    assert (data["memberCount"], data["scanCount"], data["scans"]) == (2, 0, [])

    for reader in (creator, lead, helper):
        got = api.get(f"/api/cases/{data['id']}", headers=reader.headers)
        assert got.status_code == 200, got.text
        assert got.json()["data"] == data

    defaults = create_case(api, creator, title="Mine")
    assert defaults["owner"]["id"] == creator.id
    assert (defaults["priority"], defaults["description"], defaults["members"]) == (
        "medium",
        "",
        [],
    )

    listed = api.get("/api/cases", headers=creator.headers).json()
    assert [item["id"] for item in listed["data"]] == [defaults["id"], data["id"]]
    assert listed["pagination"] == {"total": 2, "page": 1, "limit": 20, "pages": 1}
    first = listed["data"][1]
    assert set(first) == {
        "id",
        "title",
        "status",
        "priority",
        "owner",
        "scanCount",
        "memberCount",
        "createdAt",
        "updatedAt",
        "closedAt",
    }
    assert first["owner"] == data["owner"]
    assert (first["memberCount"], first["scanCount"]) == (2, 0)
    # The helper reads only the case it is on.
    only = api.get("/api/cases", headers=helper.headers).json()
    assert [item["id"] for item in only["data"]] == [data["id"]]


def test_filters_search_and_pagination(api: httpx.Client, make_account: MakeAccount) -> None:
    owner, analyst = make_account(), make_account("analyst")
    word = uuid.uuid4().hex[:8]
    ids = [
        create_case(api, owner, title=f"Case {i} {word}", priority="low" if i % 2 else "high")["id"]
        for i in range(5)
    ]
    given = create_case(
        api, owner, title="Other", description=f"About 100%_{word.upper()}", ownerId=analyst.id
    )
    path = "/api/cases"
    page2 = api.get(path, headers=owner.headers, params={"page": 2, "limit": 2}).json()
    assert [item["id"] for item in page2["data"]] == [ids[3], ids[2]]
    assert page2["pagination"] == {"total": 6, "page": 2, "limit": 2, "pages": 3}
    low = api.get(path, headers=owner.headers, params={"priority": "low"}).json()
    assert [item["id"] for item in low["data"]] == [ids[3], ids[1]]
    found = api.get(path, headers=owner.headers, params={"search": word.upper()}).json()
    assert [item["id"] for item in found["data"]] == [given["id"], *reversed(ids)]
    literal = api.get(path, headers=owner.headers, params={"search": f"100%_{word}"}).json()
    assert [item["id"] for item in literal["data"]] == [given["id"]]
    wildcard = api.get(path, headers=owner.headers, params={"search": "%"}).json()
    assert [item["id"] for item in wildcard["data"]] == [given["id"]]
    by_owner = api.get(path, headers=owner.headers, params={"ownerId": analyst.id}).json()
    assert [item["id"] for item in by_owner["data"]] == [given["id"]]
    # A change moves a case to the top.
    api.patch(f"{path}/{ids[0]}", headers=owner.headers, json={"status": "in_progress"})
    moved = api.get(path, headers=owner.headers, params={"limit": 1}).json()
    assert moved["data"][0]["id"] == ids[0]
    status = api.get(path, headers=owner.headers, params={"status": "in_progress"}).json()
    assert [item["id"] for item in status["data"]] == [ids[0]]
    empty = api.get(path, headers=owner.headers, params={"page": 9}).json()
    assert empty["data"] == []
    assert empty["pagination"] == {"total": 6, "page": 9, "limit": 20, "pages": 1}
    for params in ({"limit": 0}, {"limit": 101}, {"status": "done"}, {"ownerId": "x"}):
        assert_envelope(api.get(path, headers=owner.headers, params=params), 400)


def test_patch_changes_and_events(
    api: httpx.Client, make_account: MakeAccount, server: LiveServer
) -> None:
    owner, member, analyst = make_account("analyst"), make_account(), make_account("analyst")
    case = create_case(api, owner, title="Old", memberIds=[member.id])
    path = f"/api/cases/{case['id']}"
    changed = api.patch(
        path, headers=member.headers, json={"title": " New ", "priority": "critical"}
    )
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert (data["title"], data["priority"]) == ("New", "critical")
    assert data["updatedAt"] > case["updatedAt"]

    closed = api.patch(path, headers=member.headers, json={"status": "closed"}).json()["data"]
    assert closed["status"] == "closed"
    assert closed["closedAt"] == closed["updatedAt"]
    reopened = api.patch(path, headers=owner.headers, json={"status": "open"}).json()["data"]
    assert reopened["closedAt"] is None
    # The same values again change nothing.
    same = api.patch(path, headers=owner.headers, json={"title": "New", "status": "open"})
    assert same.json()["data"]["updatedAt"] == reopened["updatedAt"]

    # Only the owner or an admin changes the owner.
    refused = api.patch(path, headers=member.headers, json={"ownerId": member.id})
    assert_envelope(refused, 403, "FORBIDDEN")
    not_staff = api.patch(path, headers=owner.headers, json={"ownerId": member.id})
    assert_envelope(not_staff, 400, "VALIDATION_ERROR")
    unknown = api.patch(path, headers=owner.headers, json={"ownerId": str(uuid.uuid4())})
    assert_envelope(unknown, 400, "VALIDATION_ERROR")
    handed = api.patch(path, headers=owner.headers, json={"ownerId": analyst.id})
    assert handed.status_code == 200, handed.text
    after = handed.json()["data"]
    assert after["owner"]["id"] == analyst.id
    assert sorted(m["id"] for m in after["members"]) == sorted([member.id, owner.id])

    timeline = api.get(f"{path}/timeline", headers=owner.headers).json()["data"]
    assert [(e["action"], e["actor"]["id"], e["details"]) for e in timeline] == [
        (
            "case.created",
            owner.id,
            {
                "title": "Old",
                "priority": "medium",
                "owner": user_ref(owner),
                "members": [user_ref(member)],
            },
        ),
        (
            "case.updated",
            member.id,
            {"changes": {"title": ["Old", "New"], "priority": ["medium", "critical"]}},
        ),
        ("case.status_changed", member.id, {"from": "open", "to": "closed"}),
        ("case.status_changed", owner.id, {"from": "closed", "to": "open"}),
        ("case.owner_changed", owner.id, {"from": user_ref(owner), "to": user_ref(analyst)}),
    ]
    assert [(e.action, e.actor_id) for e in audit_events(server, case["id"])] == [
        ("case.create", uuid.UUID(owner.id)),
        ("case.update", uuid.UUID(member.id)),
        ("case.update", uuid.UUID(member.id)),
        ("case.update", uuid.UUID(owner.id)),
        ("case.update", uuid.UUID(owner.id)),
    ]
    assert audit_events(server, case["id"])[-1].details == {"owner": [owner.id, analyst.id]}


def test_delete(api: httpx.Client, make_account: MakeAccount, server: LiveServer) -> None:
    owner, member, admin = make_account(), make_account(), make_account("admin")
    case = create_case(api, owner, memberIds=[member.id])
    other = create_case(api, owner)
    assert_envelope(api.delete(f"/api/cases/{case['id']}", headers=member.headers), 403)
    deleted = api.delete(f"/api/cases/{case['id']}", headers=owner.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"success": True, "message": "Case deleted successfully"}
    for caller in (owner, member, admin):
        assert_envelope(api.get(f"/api/cases/{case['id']}", headers=caller.headers), 404)
    by_admin = api.delete(f"/api/cases/{other['id']}", headers=admin.headers)
    assert by_admin.status_code == 200
    assert [e.action for e in audit_events(server, case["id"])] == ["case.create", "case.delete"]
    assert audit_events(server, other["id"])[-1].actor_id == uuid.UUID(admin.id)


def test_an_outsider_gets_404_everywhere(api: httpx.Client, make_account: MakeAccount) -> None:
    owner, outsider, analyst = make_account(), make_account(), make_account("analyst")
    scan_id = media_scan(api, owner)
    case = create_case(api, owner)
    assert add_scan(api, owner, case["id"], "media", scan_id).status_code == 201
    base = f"/api/cases/{case['id']}"
    calls: list[tuple[str, str, Any]] = [
        ("GET", base, None),
        ("PATCH", base, {"title": "mine"}),
        ("DELETE", base, None),
        ("POST", f"{base}/scans", {"scanKind": "media", "scanId": scan_id}),
        ("DELETE", f"{base}/scans/media/{scan_id}", None),
        ("POST", f"{base}/members", {"userId": outsider.id}),
        ("DELETE", f"{base}/members/{owner.id}", None),
        ("DELETE", f"{base}/members/{outsider.id}", None),
        ("GET", f"{base}/notes", None),
        ("POST", f"{base}/notes", {"body": "hi"}),
        ("GET", f"{base}/timeline", None),
    ]
    for caller in (outsider, analyst):
        for method, path, json in calls:
            response = api.request(method, path, headers=caller.headers, json=json)
            error = assert_envelope(response, 404, "NOT_FOUND")
            assert error["message"] == "Case not found", (method, path)
        listed = api.get("/api/cases", headers=caller.headers).json()
        assert case["id"] not in {item["id"] for item in listed["data"]}
    for method, path, json in calls[:1] + calls[-3:]:
        response = api.request(
            method, path.replace(case["id"], "not-a-uuid"), json=json, headers=owner.headers
        )
        assert_envelope(response, 404, "NOT_FOUND")
    assert api.get(base, headers=owner.headers).json()["data"]["title"] == "A case"


def test_member_and_admin_rights(api: httpx.Client, make_account: MakeAccount) -> None:
    owner, member, admin, stranger = (
        make_account(),
        make_account(),
        make_account("admin"),
        make_account(),
    )
    case = create_case(api, owner, memberIds=[member.id])
    base = f"/api/cases/{case['id']}"
    # A member reads, notes and adds its own scans, but runs neither members nor the owner.
    assert api.get(base, headers=member.headers).status_code == 200
    note = api.post(f"{base}/notes", headers=member.headers, json={"body": "seen it"})
    assert note.status_code == 201, note.text
    own = malware_scan(api, member)
    assert add_scan(api, member, case["id"], "malware", own).status_code == 201
    assert_envelope(
        api.post(f"{base}/members", headers=member.headers, json={"userId": stranger.id}), 403
    )
    assert_envelope(api.delete(f"{base}/members/{owner.id}", headers=member.headers), 403)
    assert_envelope(api.delete(base, headers=member.headers), 403, "FORBIDDEN")
    # An admin reads every case and runs it.
    assert api.get(base, headers=admin.headers).status_code == 200
    listed = api.get("/api/cases", headers=admin.headers, params={"limit": 100}).json()
    assert case["id"] in {item["id"] for item in listed["data"]}
    added = api.post(f"{base}/members", headers=admin.headers, json={"username": stranger.username})
    assert added.status_code == 201, added.text
    assert added.json()["data"]["id"] == stranger.id
    # A member leaves on its own.
    left = api.delete(f"{base}/members/{stranger.id}", headers=stranger.headers)
    assert left.status_code == 200, left.text
    assert_envelope(api.get(base, headers=stranger.headers), 404)
    assert_envelope(api.delete(f"{base}/members/{stranger.id}", headers=owner.headers), 404)


def test_members(api: httpx.Client, make_account: MakeAccount, server: LiveServer) -> None:
    owner, first, second = make_account(), make_account("analyst"), make_account()
    case = create_case(api, owner)
    path = f"/api/cases/{case['id']}/members"
    added = api.post(path, headers=owner.headers, json={"userId": first.id})
    assert added.status_code == 201, added.text
    member = added.json()["data"]
    assert (member["id"], member["username"], member["role"]) == (
        first.id,
        first.username,
        "analyst",
    )
    by_name = api.post(path, headers=owner.headers, json={"username": second.username.upper()})
    assert by_name.status_code == 201, by_name.text
    for body in ({"userId": first.id}, {"userId": owner.id}, {"username": second.username}):
        assert_envelope(api.post(path, headers=owner.headers, json=body), 409, "CONFLICT")
    missing = api.post(path, headers=owner.headers, json={"userId": str(uuid.uuid4())})
    assert assert_envelope(missing, 404, "NOT_FOUND")["message"] == "User not found"
    assert_envelope(api.post(path, headers=owner.headers, json={"username": "nobody_x"}), 404)
    inactive = make_account()
    with server.context.db.session() as session:
        from veriscan.accounts.models import User

        row = session.get(User, uuid.UUID(inactive.id))
        assert row is not None
        row.is_active = False
    refused = api.post(path, headers=owner.headers, json={"userId": inactive.id})
    assert_envelope(refused, 400, "VALIDATION_ERROR")
    detail = api.get(f"/api/cases/{case['id']}", headers=owner.headers).json()["data"]
    assert [m["id"] for m in detail["members"]] == [first.id, second.id]
    assert detail["memberCount"] == 2
    removed = api.delete(f"{path}/{first.id}", headers=owner.headers)
    assert removed.status_code == 200, removed.text
    assert_envelope(api.get(f"/api/cases/{case['id']}", headers=first.headers), 404)
    actions = [(e.action, e.details) for e in audit_events(server, case["id"])]
    assert actions == [
        ("case.create", {"title": "A case", "owner_id": owner.id, "member_ids": []}),
        ("case.member_add", {"user_id": first.id}),
        ("case.member_add", {"user_id": second.id}),
        ("case.member_remove", {"user_id": first.id}),
    ]


def test_new_members_and_owners_are_notified(api: httpx.Client, make_account: MakeAccount) -> None:
    owner, member, lead = make_account(), make_account(), make_account("analyst")
    case = create_case(api, owner, title="Ransom note")
    added = api.post(
        f"/api/cases/{case['id']}/members", headers=owner.headers, json={"userId": member.id}
    )
    assert added.status_code == 201
    listed = api.get("/api/notifications", headers=member.headers).json()["data"]
    assert [
        (n["kind"], n["title"], n["message"], n["scanKind"], n["scanId"], n["read"]) for n in listed
    ] == [
        (
            "case.member_added",
            "Added to case: Ransom note",
            f'{owner.username} added you to the case "Ransom note".',
            "case",
            case["id"],
            False,
        )
    ]
    given = create_case(api, owner, title="Handed over", ownerId=lead.id)
    told = api.get("/api/notifications", headers=lead.headers).json()["data"]
    assert [(n["kind"], n["scanId"]) for n in told] == [("case.owner_changed", given["id"])]
    # Nobody is told about their own action.
    assert api.get("/api/notifications", headers=owner.headers).json()["data"] == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("", {"title": ""}),
        ("", {"title": "   "}),
        ("", {"title": "x" * 201}),
        ("", {}),
        ("", {"title": "t", "description": "d" * 10_001}),
        ("", {"title": "t", "priority": "urgent"}),
        ("", {"title": "t", "status": "open"}),
        ("", {"title": "t", "memberIds": [str(uuid.uuid4())]}),
        ("", {"title": "t", "memberIds": ["not-a-uuid"]}),
        ("{case}", {}),
        ("{case}", {"status": "done"}),
        ("{case}", {"title": None}),
        ("{case}", {"title": "t", "color": "red"}),
        ("{case}/members", {}),
        ("{case}/members", {"userId": "{me}", "username": "someone"}),
        ("{case}/members", {"userId": "{me}", "role": "admin"}),
        ("{case}/scans", {"scanKind": "pdf", "scanId": "{me}"}),
        ("{case}/scans", {"scanKind": "media"}),
        ("{case}/notes", {"body": " \n "}),
        ("{case}/notes", {"body": "n" * 5001}),
    ],
)
def test_validation(
    api: httpx.Client, make_account: MakeAccount, path: str, body: dict[str, Any]
) -> None:
    owner = make_account()
    case = create_case(api, owner)
    url = "/api/cases/" + path.format(case=case["id"]) if path else "/api/cases"
    body = {k: (v.format(me=owner.id) if isinstance(v, str) else v) for k, v in body.items()}
    method = "PATCH" if path == "{case}" else "POST"
    response = api.request(method, url.rstrip("/"), headers=owner.headers, json=body)
    assert_envelope(response, 400, "VALIDATION_ERROR")
    unchanged = api.get(f"/api/cases/{case['id']}", headers=owner.headers).json()["data"]
    assert (unchanged["title"], unchanged["members"]) == ("A case", [])


def test_notes_are_append_only_and_paged(
    api: httpx.Client, make_account: MakeAccount, server: LiveServer
) -> None:
    owner, member = make_account(), make_account()
    case = create_case(api, owner, memberIds=[member.id])
    path = f"/api/cases/{case['id']}/notes"
    ids = []
    for index, author in enumerate([owner, member, owner]):
        created = api.post(path, headers=author.headers, json={"body": f" note {index} "})
        assert created.status_code == 201, created.text
        data = created.json()["data"]
        assert (data["body"], data["authorId"], data["authorUsername"]) == (
            f"note {index}",
            author.id,
            author.username,
        )
        ids.append(data["id"])
    listed = api.get(path, headers=member.headers).json()
    assert [n["id"] for n in listed["data"]] == ids
    assert listed["pagination"] == {"total": 3, "page": 1, "limit": 20, "pages": 1}
    second = api.get(path, headers=owner.headers, params={"page": 2, "limit": 2}).json()
    assert [n["id"] for n in second["data"]] == ids[2:]
    assert second["pagination"] == {"total": 3, "page": 2, "limit": 2, "pages": 2}
    # No edit or delete of a note exists.
    for method in ("PATCH", "DELETE", "PUT"):
        response = api.request(method, f"{path}/{ids[0]}", headers=owner.headers, json={})
        assert response.status_code in (404, 405), response.text
    notes = [e for e in audit_events(server, case["id"]) if e.action == "case.note_add"]
    assert [e.details["note_id"] for e in notes] == ids
