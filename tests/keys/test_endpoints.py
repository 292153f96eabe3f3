"""VirusTotal keys over HTTP: CRUD, validation against the stand-in, values never shown."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer, LogCapture
from veriscan.keys.models import ApiKey


@pytest.fixture
def vt_key(vt: Any) -> str:
    key = secrets.token_hex(32)
    vt.add_key(key)
    return key


@pytest.fixture
def offline_vt(vt: Any) -> Iterator[None]:
    vt.set_offline(True)
    yield
    vt.set_offline(False)


def _create(
    api: httpx.Client, account: Account, value: str, name: str = "My VirusTotal API Key"
) -> httpx.Response:
    return api.post("/api/keys/", headers=account.headers, json={"name": name, "key_value": value})


def test_create_list_get_update_delete(api: httpx.Client, account: Account, vt_key: str) -> None:
    created = _create(api, account, vt_key)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["message"] == "API key created successfully"
    key = body["api_key"]
    assert set(key) >= {"id", "name", "is_active", "created_at", "updated_at"}
    assert key["name"] == "My VirusTotal API Key" and key["is_active"] is True
    assert key["status"] == "valid"

    listed = api.get("/api/keys/", headers=account.headers)
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json()["api_keys"]] == [key["id"]]
    assert api.get("/api/keys", headers=account.headers).json() == listed.json()

    fetched = api.get(f"/api/keys/{key['id']}", headers=account.headers)
    assert fetched.status_code == 200 and fetched.json()["api_key"] == key

    updated = api.put(
        f"/api/keys/{key['id']}",
        headers=account.headers,
        json={"name": "Updated API Key Name", "is_active": False},
    )
    assert updated.status_code == 200
    assert updated.json()["message"] == "API key updated successfully"
    assert updated.json()["api_key"]["name"] == "Updated API Key Name"
    assert updated.json()["api_key"]["is_active"] is False
    assert updated.json()["api_key"]["updated_at"] >= key["updated_at"]

    deleted = api.delete(f"/api/keys/{key['id']}", headers=account.headers)
    assert deleted.status_code == 200 and deleted.json() == {
        "message": "API key deleted successfully"
    }
    assert_envelope(api.get(f"/api/keys/{key['id']}", headers=account.headers), 404, "NOT_FOUND")
    assert api.get("/api/keys/", headers=account.headers).json() == {"api_keys": []}


def test_create_refuses_a_key_virustotal_rejects(api: httpx.Client, account: Account) -> None:
    error = assert_envelope(_create(api, account, secrets.token_hex(32)), 400)
    assert "invalid" in error["message"].lower()
    assert api.get("/api/keys/", headers=account.headers).json() == {"api_keys": []}


def test_create_while_virustotal_is_unreachable_keeps_the_key_unverified(
    api: httpx.Client, account: Account, offline_vt: None
) -> None:
    created = _create(api, account, secrets.token_hex(32))
    assert created.status_code == 201
    assert created.json()["api_key"]["status"] == "unverified"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "x"},
        {"key_value": "abc"},
        {"name": "", "key_value": "abc"},
        {"name": "x", "key_value": "a b"},
        {"name": "x" * 101, "key_value": "abc"},
        {"name": "x", "key_value": 5},
        {"name": "x", "key_value": "ключ-ü"},
    ],
)
def test_create_validation(api: httpx.Client, account: Account, body: dict[str, Any]) -> None:
    assert_envelope(
        api.post("/api/keys/", headers=account.headers, json=body), 400, "VALIDATION_ERROR"
    )


def test_update_errors(api: httpx.Client, account: Account, vt_key: str) -> None:
    key_id = _create(api, account, vt_key).json()["api_key"]["id"]
    assert_envelope(
        api.put(f"/api/keys/{key_id}", headers=account.headers, json={}), 400, "VALIDATION_ERROR"
    )
    bad_value = api.put(
        f"/api/keys/{key_id}", headers=account.headers, json={"key_value": secrets.token_hex(32)}
    )
    assert_envelope(bad_value, 400)
    assert_envelope(
        api.put(f"/api/keys/{uuid.uuid4()}", headers=account.headers, json={"name": "x"}), 404
    )
    assert_envelope(
        api.put("/api/keys/not-a-uuid", headers=account.headers, json={"name": "x"}), 404
    )


def test_update_replaces_the_value(
    api: httpx.Client, account: Account, vt: Any, server: LiveServer
) -> None:
    first, second = secrets.token_hex(32), secrets.token_hex(32)
    vt.add_key(first)
    vt.add_key(second)
    key_id = _create(api, account, first).json()["api_key"]["id"]
    response = api.put(f"/api/keys/{key_id}", headers=account.headers, json={"key_value": second})
    assert response.status_code == 200
    with server.context.db.session(writes=False) as session:
        stored = session.get(ApiKey, uuid.UUID(key_id))
        assert stored is not None
        assert server.context.secret_box.decrypt(stored.encrypted_value) == second


@pytest.mark.parametrize("path", ["/api/keys/{id}", "/api/keys/not-a-uuid", "/api/keys/{random}"])
def test_get_and_delete_unknown_keys(api: httpx.Client, account: Account, path: str) -> None:
    path = path.format(id=uuid.uuid4(), random=uuid.uuid4())
    assert_envelope(api.get(path, headers=account.headers), 404, "NOT_FOUND")
    assert_envelope(api.delete(path, headers=account.headers), 404, "NOT_FOUND")


def test_validate(api: httpx.Client, account: Account, vt_key: str) -> None:
    ok = api.post("/api/keys/validate", headers=account.headers, json={"key_value": vt_key})
    assert ok.status_code == 200
    assert ok.json() == {"valid": True, "status": "valid", "message": "API key is valid"}
    bad = api.post(
        "/api/keys/validate", headers=account.headers, json={"key_value": secrets.token_hex(32)}
    )
    assert bad.status_code == 200
    assert bad.json()["valid"] is False and bad.json()["status"] == "invalid"
    assert "invalid" in bad.json()["message"]
    assert_envelope(
        api.post("/api/keys/validate", headers=account.headers, json={}), 400, "VALIDATION_ERROR"
    )


def test_validate_tells_unreachable_apart(
    api: httpx.Client, account: Account, offline_vt: None
) -> None:
    response = api.post(
        "/api/keys/validate", headers=account.headers, json={"key_value": secrets.token_hex(32)}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False and body["status"] == "unreachable"
    assert "could not be reached" in body["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/keys/"),
        ("POST", "/api/keys/"),
        ("POST", "/api/keys/validate"),
        ("GET", f"/api/keys/{uuid.uuid4()}"),
        ("PUT", f"/api/keys/{uuid.uuid4()}"),
        ("DELETE", f"/api/keys/{uuid.uuid4()}"),
    ],
)
def test_every_key_endpoint_needs_a_token(api: httpx.Client, method: str, path: str) -> None:
    assert_envelope(
        api.request(method, path, json={"name": "x", "key_value": "y"}), 401, "UNAUTHORIZED"
    )


def test_another_user_gets_404_for_my_key(
    api: httpx.Client, make_account: Callable[..., Account], vt_key: str
) -> None:
    owner, other, admin = make_account(), make_account(), make_account("admin")
    key_id = _create(api, owner, vt_key).json()["api_key"]["id"]
    for intruder in (other, admin):
        assert_envelope(api.get(f"/api/keys/{key_id}", headers=intruder.headers), 404)
        assert_envelope(
            api.put(f"/api/keys/{key_id}", headers=intruder.headers, json={"name": "mine"}), 404
        )
        assert_envelope(api.delete(f"/api/keys/{key_id}", headers=intruder.headers), 404)
        assert api.get("/api/keys/", headers=intruder.headers).json() == {"api_keys": []}
    assert (
        api.get(f"/api/keys/{key_id}", headers=owner.headers).json()["api_key"]["name"]
        == "My VirusTotal API Key"
    )


def test_key_values_are_encrypted_and_never_shown(
    api: httpx.Client, account: Account, vt: Any, server: LiveServer, log_capture: LogCapture
) -> None:
    value = secrets.token_hex(32)
    vt.add_key(value)
    seen: list[str] = []
    created = _create(api, account, value)
    seen.append(created.text)
    key_id = created.json()["api_key"]["id"]
    seen.append(api.get("/api/keys/", headers=account.headers).text)
    seen.append(api.get(f"/api/keys/{key_id}", headers=account.headers).text)
    seen.append(
        api.put(f"/api/keys/{key_id}", headers=account.headers, json={"key_value": value}).text
    )
    seen.append(
        api.post("/api/keys/validate", headers=account.headers, json={"key_value": value}).text
    )
    seen.append(
        api.put(
            f"/api/keys/{key_id}", headers=account.headers, json={"key_value": value + "x"}
        ).text
    )
    seen.append(
        api.post(
            "/api/keys/", headers=account.headers, json={"name": "n", "key_value": value + " x"}
        ).text
    )
    for text in seen:
        assert value not in text
    assert value not in log_capture.text()
    with server.context.db.session(writes=False) as session:
        stored = session.scalar(select(ApiKey).where(ApiKey.id == uuid.UUID(key_id)))
        assert stored is not None
        assert value not in stored.encrypted_value
        assert server.context.secret_box.decrypt(stored.encrypted_value) == value
