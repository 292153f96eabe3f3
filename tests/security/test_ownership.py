"""Another user's ids, on every endpoint that takes one (read from the app's own schema).

CONTRACT.md: files, VirusTotal keys and malware scans answer 404 to anyone but their
owner, whatever the role (an id's existence is not revealed), except
GET /api/scan/user/{user_id}, which is 403 unless the caller is an admin. Media scans are
seen by their owner, analysts and admins; only admins delete them and use /api/admin.
Notifications are their owner's only: anyone else, admins included, gets 404.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Account, assert_envelope
from tests.security.conftest import Others, Victim
from tests.security.helpers import combinations, enum_queries, fill, operations, path_parameters

NOT_YOURS = {"operative": 404, "analyst": 404, "admin": 404}
# Every operation with a path parameter, and what each other role gets with A's ids.
# Left out are calls that would succeed and change A's data (an admin deleting A's media
# scan or changing A's role): those are the admin's right.
EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/api/keys/{key_id}"): NOT_YOURS,
    ("PUT", "/api/keys/{key_id}"): NOT_YOURS,
    ("DELETE", "/api/keys/{key_id}"): NOT_YOURS,
    ("GET", "/api/files/{file_id}"): NOT_YOURS,
    ("DELETE", "/api/files/{file_id}"): NOT_YOURS,
    ("POST", "/api/scan/file/{file_id}"): NOT_YOURS,
    ("GET", "/api/scan/file/{file_id}"): NOT_YOURS,
    ("POST", "/api/scan/file/{file_id}/rescan"): NOT_YOURS,
    ("GET", "/api/scan/user/{user_id}"): {"operative": 403, "analyst": 403, "admin": 200},
    ("GET", "/api/scan/{scan_id}/status"): NOT_YOURS,
    ("GET", "/api/scan/{scan_id}/results"): NOT_YOURS,
    ("GET", "/api/scan/{scan_id}/export"): NOT_YOURS,
    ("GET", "/api/scans/{scan_id}"): {"operative": 404, "analyst": 200, "admin": 200},
    ("GET", "/api/scans/{scan_id}/export"): {"operative": 404, "analyst": 200, "admin": 200},
    ("DELETE", "/api/scans/{scan_id}"): {"operative": 403, "analyst": 403},
    ("GET", "/api/scans/{scan_id}/evidence/{name}"): {
        "operative": 404,
        "analyst": 200,
        "admin": 200,
    },
    # The analysed file itself: whoever reads the scan.
    ("GET", "/api/scans/{scan_id}/file"): {"operative": 404, "analyst": 200, "admin": 200},
    # A's media batch: seen as media scans are (a malware batch is its owner's only,
    # tests/batches/test_batches.py).
    ("GET", "/api/batches/{batch_id}"): {"operative": 404, "analyst": 200, "admin": 200},
    ("PATCH", "/api/admin/users/{user_id}"): {"operative": 403, "analyst": 403},
    # Staff editing A's media scan's tags, or commenting on it, would succeed: their right.
    ("PATCH", "/api/scans/{scan_id}/tags"): {"operative": 404},
    ("GET", "/api/scans/{scan_id}/comments"): {"operative": 404, "analyst": 200, "admin": 200},
    ("POST", "/api/scans/{scan_id}/comments"): {"operative": 404},
    ("GET", "/api/scan/{scan_id}/comments"): NOT_YOURS,
    ("POST", "/api/scan/{scan_id}/comments"): NOT_YOURS,
    # A's comment on A's media scan: staff see it but only its author edits it, and only
    # its author or an admin (who would succeed) deletes it.
    ("PATCH", "/api/comments/{comment_id}"): {"operative": 404, "analyst": 403, "admin": 403},
    ("DELETE", "/api/comments/{comment_id}"): {"operative": 404, "analyst": 403},
    # Sharing and assignment: staff would succeed in sharing or assigning A's media scan
    # (their right); removing a share or an assignment that does not exist is 404.
    ("GET", "/api/scans/{scan_id}/shares"): {"operative": 404, "analyst": 200, "admin": 200},
    ("POST", "/api/scans/{scan_id}/shares"): {"operative": 404},
    ("DELETE", "/api/scans/{scan_id}/shares/{user_id}"): NOT_YOURS,
    ("GET", "/api/scans/{scan_id}/assignment"): {"operative": 404, "analyst": 200, "admin": 200},
    ("PUT", "/api/scans/{scan_id}/assignment"): {"operative": 404},
    ("DELETE", "/api/scans/{scan_id}/assignment"): NOT_YOURS,
    ("GET", "/api/scan/{scan_id}/shares"): NOT_YOURS,
    ("POST", "/api/scan/{scan_id}/shares"): NOT_YOURS,
    ("DELETE", "/api/scan/{scan_id}/shares/{user_id}"): NOT_YOURS,
    ("GET", "/api/scan/{scan_id}/assignment"): NOT_YOURS,
    ("PUT", "/api/scan/{scan_id}/assignment"): NOT_YOURS,
    ("DELETE", "/api/scan/{scan_id}/assignment"): NOT_YOURS,
    ("POST", "/api/notifications/{notification_id}/read"): NOT_YOURS,
    ("DELETE", "/api/notifications/{notification_id}"): NOT_YOURS,
    # A's case: read by its owner, members and admins (an admin would succeed in changing
    # it; adding A's media scan again is a 409; A is its owner, not a member: 404).
    ("GET", "/api/cases/{case_id}"): {"operative": 404, "analyst": 404, "admin": 200},
    ("PATCH", "/api/cases/{case_id}"): {"operative": 404, "analyst": 404},
    ("DELETE", "/api/cases/{case_id}"): {"operative": 404, "analyst": 404},
    ("POST", "/api/cases/{case_id}/scans"): {"operative": 404, "analyst": 404},
    ("DELETE", "/api/cases/{case_id}/scans/{scan_kind}/{scan_id}"): {
        "operative": 404,
        "analyst": 404,
    },
    ("POST", "/api/cases/{case_id}/members"): {"operative": 404, "analyst": 404},
    ("DELETE", "/api/cases/{case_id}/members/{user_id}"): NOT_YOURS,
    ("GET", "/api/cases/{case_id}/notes"): {"operative": 404, "analyst": 404, "admin": 200},
    ("POST", "/api/cases/{case_id}/notes"): {"operative": 404, "analyst": 404},
    ("GET", "/api/cases/{case_id}/timeline"): {"operative": 404, "analyst": 404, "admin": 200},
}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/api/keys/{key_id}"): {"name": "taken over", "is_active": False},
    ("PATCH", "/api/admin/users/{user_id}"): {"role": "admin", "is_active": False},
    ("PATCH", "/api/scans/{scan_id}/tags"): {"tags": ["taken over"]},
    ("POST", "/api/scans/{scan_id}/comments"): {"body": "taken over"},
    ("POST", "/api/scan/{scan_id}/comments"): {"body": "taken over"},
    ("PATCH", "/api/comments/{comment_id}"): {"body": "taken over"},
    ("POST", "/api/scans/{scan_id}/shares"): {"username": "taken-over"},
    ("POST", "/api/scan/{scan_id}/shares"): {"username": "taken-over"},
    ("PUT", "/api/scans/{scan_id}/assignment"): {"username": "taken-over"},
    ("PUT", "/api/scan/{scan_id}/assignment"): {"username": "taken-over"},
    ("PATCH", "/api/cases/{case_id}"): {"title": "taken over", "status": "closed"},
    ("POST", "/api/cases/{case_id}/scans"): {
        "scanKind": "media",
        "scanId": "00000000-0000-0000-0000-000000000001",
    },
    ("POST", "/api/cases/{case_id}/members"): {"username": "taken-over"},
    ("POST", "/api/cases/{case_id}/notes"): {"body": "taken over"},
}
CODES = {403: "FORBIDDEN", 404: "NOT_FOUND"}


@pytest.fixture(scope="module")
def api_module(server: Any) -> Any:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_every_endpoint_with_an_id_is_covered(spec: dict[str, Any]) -> None:
    taking_ids = {(m, p) for m, p, _ in operations(spec) if path_parameters(p)}
    assert taking_ids == set(EXPECTED), "update EXPECTED (and Victim.ids) for new endpoints"


def _assert_owner_still_has_everything(api: httpx.Client, victim: Victim) -> None:
    owner = victim.account.headers
    key = api.get(f"/api/keys/{victim.key_id}", headers=owner)
    assert key.status_code == 200
    assert key.json()["api_key"]["name"] == victim.key_name
    assert key.json()["api_key"]["is_active"] is True
    for file_id in victim.file_ids:
        assert api.get(f"/api/files/{file_id}", headers=owner).status_code == 200
        # Nobody else started a scan of A's file.
        assert len(api.get(f"/api/scan/file/{file_id}", headers=owner).json()) == 1
    media = api.get(f"/api/scans/{victim.media_id}", headers=owner)
    assert media.status_code == 200
    assert media.json()["data"]["tags"] == [victim.media_tag]
    comments = api.get(f"/api/scans/{victim.media_id}/comments", headers=owner).json()["data"]
    assert [(item["id"], item["editedAt"]) for item in comments] == [
        (victim.media_comment_id, None)
    ]
    for scan_id in victim.malware_scan_ids:
        listed = api.get(f"/api/scan/{scan_id}/comments", headers=owner).json()
        assert listed["pagination"]["total"] == 0
    profile = api.get("/api/auth/profile", headers=owner).json()["user"]
    assert profile["role"] == "operative"
    case = api.get(f"/api/cases/{victim.case_id}", headers=owner).json()["data"]
    assert (case["title"], case["status"], case["members"]) == (victim.case_title, "open", [])
    assert [scan["scanId"] for scan in case["scans"]] == [
        victim.media_id,
        victim.malware_scan_ids[0],
    ]
    notes = api.get(f"/api/cases/{victim.case_id}/notes", headers=owner).json()
    assert notes["pagination"]["total"] == 1
    # Nobody else read or deleted A's notifications.
    listed = api.get("/api/notifications", headers=owner, params={"per_page": 100}).json()
    assert [item["id"] for item in listed["data"]] == list(victim.notification_ids)
    assert not any(item["read"] for item in listed["data"])
    assert listed["unread"] == len(victim.notification_ids)


def test_other_users_get_the_contracts_answer_for_every_id(
    api_module: httpx.Client, spec: dict[str, Any], victim: Victim, others: Others
) -> None:
    api = api_module
    callers = {"operative": others.operative, "analyst": others.analyst, "admin": others.admin}
    private = victim.private_strings()
    calls = 0
    for method, template, operation in operations(spec):
        if (method, template) not in EXPECTED:
            continue
        for role, status in EXPECTED[(method, template)].items():
            caller: Account = callers[role]
            for values in combinations(template, victim.ids(template)):
                for query in enum_queries(operation):
                    path = fill(template, values)
                    response = api.request(
                        method,
                        path,
                        params=query,
                        headers=caller.headers,
                        json=BODIES.get((method, template)),
                    )
                    calls += 1
                    where = f"{role} {method} {path} {query}"
                    if status >= 400:
                        assert_envelope(response, status, CODES[status])
                        for secret in private:
                            assert secret not in response.text, (where, secret)
                    else:
                        assert response.status_code == status, (where, response.text)
                        if template.endswith("/export"):
                            disposition = response.headers["content-disposition"]
                            assert disposition.startswith("attachment;"), where
    assert calls >= len(EXPECTED) * 2
    _assert_owner_still_has_everything(api, victim)


def test_a_foreign_key_cannot_be_named_for_a_scan(
    api_module: httpx.Client, victim: Victim, others: Others
) -> None:
    intruder = others.operative
    mine = api_module.post(
        "/api/files/upload", headers=intruder.headers, files={"file": ("mine.txt", b"my own")}
    )
    assert mine.status_code == 201, mine.text
    for action in ("", "/rescan"):
        response = api_module.post(
            f"/api/scan/file/{mine.json()['id']}{action}",
            headers=intruder.headers,
            json={"api_key_id": victim.key_id},
        )
        assert_envelope(response, 404, "NOT_FOUND")


def test_listings_hold_only_what_the_caller_may_see(
    api_module: httpx.Client, victim: Victim, others: Others
) -> None:
    api = api_module
    for viewer in (others.operative, others.analyst, others.admin):
        for path in ("/api/files/", "/api/keys/", "/api/scan/results"):
            listed = api.get(path, headers=viewer.headers, params={"per_page": 100})
            assert listed.status_code == 200, listed.text
            for secret in (*victim.file_ids, *victim.malware_scan_ids, victim.key_id):
                assert secret not in listed.text, (viewer.role, path)
            for secret in victim.private_strings():
                assert secret not in listed.text, (viewer.role, path)
        for path in ("/api/notifications", "/api/notifications/unread-count"):
            own_only = api.get(path, headers=viewer.headers, params={"per_page": 100})
            assert own_only.status_code == 200, own_only.text
            for secret in (*victim.notification_ids, *victim.private_strings()):
                assert secret not in own_only.text, (viewer.role, path)
        for fmt in ("json", "csv"):
            exported = api.get("/api/scan/export", headers=viewer.headers, params={"format": fmt})
            assert exported.status_code == 200, exported.text
            for secret in (*victim.malware_scan_ids, *victim.private_strings()):
                assert secret not in exported.text, (viewer.role, fmt, secret)
        own = api.get(f"/api/scan/user/{viewer.id}", headers=viewer.headers)
        assert own.status_code == 200
        assert {scan["id"] for scan in own.json()}.isdisjoint(victim.malware_scan_ids)
    search: dict[str, str | int] = {"search": victim.media_name, "limit": 100}
    hidden = api.get("/api/scans/history", headers=others.operative.headers, params=search)
    assert hidden.status_code == 200
    assert hidden.json()["pagination"]["total"] == 0
    assert (
        victim.media_id not in api.get("/api/scans/history", headers=others.operative.headers).text
    )
    for fmt in ("json", "csv"):
        exported = api.get(
            "/api/scans/export", headers=others.operative.headers, params={"format": fmt}
        )
        assert exported.status_code == 200, exported.text
        for secret in (victim.media_id, victim.media_name, victim.media_tag):
            assert secret not in exported.text, (fmt, secret)
    for staff in (others.analyst, others.admin):
        seen = api.get("/api/scans/history", headers=staff.headers, params=search)
        assert [item["id"] for item in seen.json()["data"]] == [victim.media_id]
        exported = api.get("/api/scans/export", headers=staff.headers, params=search)
        assert [item["id"] for item in exported.json()] == [victim.media_id]
    as_admin = api.get(f"/api/scan/user/{victim.account.id}", headers=others.admin.headers)
    assert sorted(scan["id"] for scan in as_admin.json()) == sorted(victim.malware_scan_ids)


def test_only_admins_use_the_admin_endpoints(
    api_module: httpx.Client, spec: dict[str, Any], victim: Victim, others: Others
) -> None:
    api = api_module
    admin_operations = [(m, p) for m, p, _ in operations(spec) if p.startswith("/api/admin/")]
    assert len(admin_operations) >= 4
    new_user = {
        "username": "sneaky_admin",
        "email": "sneaky@example.com",
        "password": "a-long-enough-password",
        "role": "admin",
    }
    for caller in (victim.account, others.operative, others.analyst):
        for method, template in admin_operations:
            path = fill(template, {"user_id": caller.id})
            body = new_user if method == "POST" else {"role": "admin"}
            response = api.request(
                method, path, headers=caller.headers, json=body if method != "GET" else None
            )
            assert_envelope(response, 403, "FORBIDDEN")
        profile = api.get("/api/auth/profile", headers=caller.headers).json()["user"]
        assert profile["role"] == caller.role
    login = api.post(
        "/api/auth/login", json={"username": "sneaky_admin", "password": new_user["password"]}
    )
    assert_envelope(login, 401)


def test_a_role_cannot_be_given_by_oneself(
    api_module: httpx.Client, make_account: Any, others: Others
) -> None:
    api = api_module
    operative = make_account()
    refused = api.put("/api/auth/profile", headers=operative.headers, json={"role": "admin"})
    assert_envelope(refused, 400, "VALIDATION_ERROR")
    wants = {
        "username": "wants_admin_" + operative.id[:8],
        "email": f"wants-admin-{operative.id[:8]}@example.com",
        "password": "a-long-enough-password",
    }
    # Asking for a role is refused out loud (it used to be ignored, creating an operative
    # the client took for an admin), and nothing is created.
    for role in ("admin", "analyst", "root"):
        refused = api.post("/api/auth/register", json={**wants, "role": role})
        # 400: the documents list 400 and 409 for this endpoint.
        assert "only an admin" in assert_envelope(refused, 400, "ROLE_NOT_ALLOWED")["message"]
    registered = api.post("/api/auth/register", json={**wants, "role": "operative"})
    assert registered.status_code == 201, registered.text
    assert registered.json()["user"]["role"] == "operative"
    assert api.get("/api/auth/profile", headers=operative.headers).json()["user"]["role"] == (
        "operative"
    )
