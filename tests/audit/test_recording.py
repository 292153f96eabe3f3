"""Each audited action leaves exactly one entry, written with the action, and no secrets."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.audit.helpers import actions, entries, only
from tests.conftest import Account, unique_name
from tests.live import LiveServer
from tests.malware.helpers import add_key, eicar_variant, unique_content, upload, wait_for
from tests.media.helpers import photo_jpeg, upload_media
from veriscan.accounts.models import User
from veriscan.audit.service import Origin
from veriscan.keys import service as keys_service

LOCAL = "127.0.0.1"


@pytest.fixture
def admin(make_account: Callable[..., Account]) -> Account:
    return make_account("admin")


def test_register_login_profile_and_logout(api: httpx.Client, admin: Account) -> None:
    name = unique_name("audited")
    password = "first-password-" + secrets.token_hex(4)
    registered = api.post(
        "/api/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": password},
        headers={"User-Agent": "audit-test/1.0"},
    )
    assert registered.status_code == 201, registered.text
    user_id = registered.json()["user"]["id"]
    entry = only(api, admin, action="auth.register", target_id=user_id)
    assert entry["actor_id"] == user_id and entry["actor_username"] == name
    assert entry["target_type"] == "user" and entry["ip_address"] == LOCAL
    assert entry["user_agent"] == "audit-test/1.0"

    login = api.post("/api/auth/login", json={"username": name, "password": password})
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    entry = only(api, admin, action="auth.login", actor=name)
    assert entry["actor_id"] == user_id and entry["target_id"] == user_id
    assert entry["ip_address"] == LOCAL

    renamed = api.put("/api/auth/profile", headers=headers, json={"name": "Audited Person"})
    assert renamed.status_code == 200
    entry = only(api, admin, action="auth.profile_updated", actor=user_id)
    assert entry["details"] == {"fields": ["name"]}

    new_password = "second-password-" + secrets.token_hex(4)
    changed = api.put(
        "/api/auth/profile",
        headers=headers,
        json={"current_password": password, "new_password": new_password},
    )
    assert changed.status_code == 200
    entry = only(api, admin, action="auth.password_changed", actor=user_id)
    assert entry["details"] == {"fields": ["new_password"]}

    assert api.post("/api/auth/logout", headers=headers).status_code == 200
    only(api, admin, action="auth.logout", actor=user_id, target_id=user_id)

    everything = entries(api, admin, actor=user_id)
    assert [e["action"] for e in everything] == [
        "auth.logout",
        "auth.password_changed",
        "auth.profile_updated",
        "auth.login",
        "auth.register",
    ]
    dumped = json.dumps(everything)
    assert password not in dumped and new_password not in dumped


def test_a_failed_login_records_the_attempt_and_nothing_else(
    api: httpx.Client, admin: Account, make_account: Callable[..., Account]
) -> None:
    account = make_account()
    before = len(entries(api, admin, actor=account.id))
    wrong = "not-the-password-" + secrets.token_hex(4)
    refused = api.post("/api/auth/login", json={"username": account.username, "password": wrong})
    assert refused.status_code == 401
    failures = entries(api, admin, action="auth.login_failed", ip=LOCAL)
    mine = [e for e in failures if e["details"].get("identifier") == account.username]
    assert len(mine) == 1, mine
    assert mine[0]["actor_id"] is None and mine[0]["actor_username"] == ""
    assert mine[0]["ip_address"] == LOCAL
    assert wrong not in json.dumps(mine)
    assert len(entries(api, admin, actor=account.id)) == before  # no auth.login

    ghost = f"{unique_name('nobody')}@example.org"
    unknown = api.post("/api/auth/login", json={"email": ghost, "password": wrong})
    assert unknown.status_code == 401
    failures = entries(api, admin, action="auth.login_failed")
    assert [e["details"] for e in failures if e["details"]["identifier"] == ghost] == [
        {"identifier": ghost, "reason": "invalid_credentials"}
    ]


def _files_and_scans_entries(api: httpx.Client, admin: Account, account: Account) -> list[str]:
    return actions(api, admin, actor=account.id, action="file.") + actions(
        api, admin, actor=account.id, action="scan."
    )


def test_upload_scan_export_and_delete(
    api: httpx.Client, admin: Account, make_account: Callable[..., Account], vt: Any
) -> None:
    account = make_account()
    add_key(api, account, vt)
    uploaded = upload(api, account, eicar_variant(), "sample.com")
    file_id = uploaded["id"]
    entry = only(api, admin, action="file.upload", target_id=file_id)
    assert entry["actor_id"] == account.id and entry["actor_username"] == account.username
    assert entry["target_type"] == "file" and entry["ip_address"] == LOCAL
    assert entry["details"]["filename"] == "sample.com"
    assert entry["details"]["sha256"] == uploaded["hash_sha256"]
    automatic = only(api, admin, action="scan.start", target_id=uploaded["scan"]["scan_id"])
    assert automatic["details"]["automatic"] is True
    assert automatic["details"]["file_id"] == file_id

    started = api.post(f"/api/scan/file/{file_id}", headers=account.headers)
    assert started.status_code == 202
    entry = only(api, admin, action="scan.start", target_id=started.json()["scan_id"])
    assert entry["details"]["automatic"] is False and entry["ip_address"] == LOCAL
    rescan = api.post(f"/api/scan/file/{file_id}/rescan", headers=account.headers)
    assert rescan.status_code == 202
    scan_id = rescan.json()["scan_id"]
    entry = only(api, admin, action="scan.rescan", target_id=scan_id)
    assert entry["actor_id"] == account.id and entry["target_type"] == "scan"
    wait_for(api, account, scan_id)

    exported = api.get(
        f"/api/scan/{scan_id}/export", headers=account.headers, params={"format": "csv"}
    )
    assert exported.status_code == 200
    entry = only(api, admin, action="scan.export", target_id=scan_id)
    assert entry["details"] == {"format": "csv"} and entry["actor_id"] == account.id

    # Refused actions leave nothing behind.
    assert (
        api.post(
            "/api/files/upload", headers=account.headers, files={"file": ("e.bin", b"")}
        ).status_code
        == 400
    )
    missing = str(uuid.uuid4())
    assert api.get(f"/api/scan/{missing}/export", headers=account.headers).status_code == 404
    assert api.delete(f"/api/files/{missing}", headers=account.headers).status_code == 404
    assert sorted(_files_and_scans_entries(api, admin, account)) == [
        "file.upload",
        "scan.export",
        "scan.rescan",
        "scan.start",
        "scan.start",
    ]

    assert api.delete(f"/api/files/{file_id}", headers=account.headers).status_code == 200
    entry = only(api, admin, action="file.delete", target_id=file_id)
    assert entry["actor_id"] == account.id and entry["ip_address"] == LOCAL
    assert entry["details"]["sha256"] == uploaded["hash_sha256"]


def test_api_keys_are_audited_without_their_values(
    api: httpx.Client, admin: Account, make_account: Callable[..., Account], vt: Any
) -> None:
    account = make_account()
    key_id = add_key(api, account, vt)
    value = account.extra["vt_keys"][key_id]
    entry = only(api, admin, action="key.create", target_id=key_id)
    assert entry["actor_id"] == account.id and entry["target_type"] == "api_key"
    assert entry["details"] == {"name": "vt", "status": "valid"}

    renamed = api.put(f"/api/keys/{key_id}", headers=account.headers, json={"name": "renamed"})
    assert renamed.status_code == 200
    replacement = "cafe" + secrets.token_hex(30)
    vt.add_key(replacement)
    replaced = api.put(
        f"/api/keys/{key_id}", headers=account.headers, json={"key_value": replacement}
    )
    assert replaced.status_code == 200
    refused = api.put(
        f"/api/keys/{key_id}", headers=account.headers, json={"key_value": secrets.token_hex(32)}
    )
    assert refused.status_code == 400  # VirusTotal does not know it: no entry
    updates = entries(api, admin, action="key.update", target_id=key_id)
    assert [e["details"]["fields"] for e in updates] == [["key_value"], ["name"]]
    assert all(e["ip_address"] == LOCAL for e in updates)

    assert api.delete(f"/api/keys/{key_id}", headers=account.headers).status_code == 200
    only(api, admin, action="key.delete", target_id=key_id, actor=account.username)

    everything = json.dumps(entries(api, admin, target_id=key_id))
    exported = api.get("/api/admin/audit/export", headers=admin.headers, params={"format": "csv"})
    assert exported.status_code == 200
    for secret in (value, replacement):
        assert secret not in everything and secret not in exported.text


def test_media_upload_and_delete(
    api: httpx.Client, admin: Account, make_account: Callable[..., Account]
) -> None:
    account = make_account()
    response = upload_media(api, account, photo_jpeg(seed=7), "audited.jpg")
    assert response.status_code in (200, 202), response.text
    scan_id = response.json()["data"]["id"]
    entry = only(api, admin, action="media.upload", target_id=scan_id)
    assert entry["actor_id"] == account.id and entry["target_type"] == "media_scan"
    assert entry["details"]["filename"] == "audited.jpg" and entry["ip_address"] == LOCAL

    refused = upload_media(api, account, unique_content("words"), "words.jpg")
    assert refused.status_code == 400
    assert actions(api, admin, actor=account.id, action="media.") == ["media.upload"]

    assert api.delete(f"/api/scans/{scan_id}", headers=account.headers).status_code == 403
    assert api.delete(f"/api/scans/{scan_id}", headers=admin.headers).status_code == 200
    entry = only(api, admin, action="media.delete", target_id=scan_id)
    assert entry["actor_id"] == admin.id and entry["details"]["owner_id"] == account.id


def test_user_management(api: httpx.Client, admin: Account) -> None:
    name = unique_name("managed")
    created = api.post(
        "/api/admin/users",
        headers=admin.headers,
        json={
            "username": name,
            "email": f"{name}@example.com",
            "password": "managed-password",
            "role": "analyst",
        },
    )
    assert created.status_code == 201
    user_id = created.json()["data"]["id"]
    entry = only(api, admin, action="user.create", target_id=user_id)
    assert entry["actor_id"] == admin.id and entry["ip_address"] == LOCAL
    assert entry["details"] == {"username": name, "role": "analyst"}

    def patch(body: dict[str, Any]) -> None:
        response = api.patch(f"/api/admin/users/{user_id}", headers=admin.headers, json=body)
        assert response.status_code == 200, response.text

    patch({"role": "admin"})
    patch({"role": "admin"})  # no change, no entry
    patch({"is_active": False})
    patch({"is_active": True})
    entry = only(api, admin, action="user.role_changed", target_id=user_id)
    assert entry["details"] == {"username": name, "old": "analyst", "new": "admin"}
    assert entry["actor_id"] == admin.id
    assert actions(api, admin, target_id=user_id) == [
        "user.activated",
        "user.deactivated",
        "user.role_changed",
        "user.create",
    ]


def test_an_entry_is_only_kept_with_its_action(
    api: httpx.Client,
    admin: Account,
    make_account: Callable[..., Account],
    server: LiveServer,
    vt: Any,
) -> None:
    """Written in the action's transaction: when that rolls back, the entry goes with it."""
    account = make_account()
    key_id = add_key(api, account, vt)
    context = server.context
    with pytest.raises(RuntimeError), context.db.session() as session:
        user = session.get(User, uuid.UUID(account.id))
        assert user is not None
        keys_service.delete_key(
            session, context, user, uuid.UUID(key_id), origin=Origin("10.9.8.7")
        )
        session.flush()
        raise RuntimeError("something after the deletion failed")
    assert api.get(f"/api/keys/{key_id}", headers=account.headers).status_code == 200
    assert entries(api, admin, action="key.delete", target_id=key_id) == []
    assert entries(api, admin, ip="10.9.8.7") == []

    with context.db.session() as session:
        user = session.get(User, uuid.UUID(account.id))
        assert user is not None
        keys_service.delete_key(
            session, context, user, uuid.UUID(key_id), origin=Origin("10.9.8.7")
        )
    assert only(api, admin, ip="10.9.8.7")["target_id"] == key_id
