"""User management by admins, over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx

from tests.conftest import Account, assert_envelope, unique_name
from tests.live import live_server


def test_only_admins_manage_users(api: httpx.Client, make_account: Callable[..., Account]) -> None:
    analyst = make_account("analyst")
    assert_envelope(api.get("/api/admin/users", headers=analyst.headers), 403)
    assert_envelope(
        api.patch(
            f"/api/admin/users/{analyst.id}", headers=analyst.headers, json={"role": "admin"}
        ),
        403,
    )
    assert_envelope(api.post("/api/admin/users", headers=analyst.headers, json={}), 403)
    assert_envelope(api.get("/api/admin/users"), 401)


def test_list_search_and_filter(api: httpx.Client, make_account: Callable[..., Account]) -> None:
    admin = make_account("admin")
    target = make_account("analyst")
    found = api.get("/api/admin/users", headers=admin.headers, params={"search": target.username})
    assert found.status_code == 200
    body = found.json()
    assert body["success"] is True and body["pagination"]["total"] == 1
    assert body["data"][0]["id"] == target.id and body["data"][0]["role"] == "analyst"
    analysts = api.get(
        "/api/admin/users", headers=admin.headers, params={"role": "analyst", "limit": 100}
    )
    assert all(u["role"] == "analyst" for u in analysts.json()["data"])
    assert_envelope(
        api.get("/api/admin/users", headers=admin.headers, params={"role": "king"}), 400
    )


def test_create_change_role_and_deactivate(
    api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    admin = make_account("admin")
    name = unique_name("made")
    created = api.post(
        "/api/admin/users",
        headers=admin.headers,
        json={
            "username": name,
            "email": f"{name}@example.com",
            "password": "made-password",
            "role": "analyst",
        },
    )
    assert created.status_code == 201 and created.json()["data"]["role"] == "analyst"
    user_id = created.json()["data"]["id"]
    assert_envelope(
        api.post(
            "/api/admin/users",
            headers=admin.headers,
            json={"username": name, "email": "x@example.com", "password": "made-password"},
        ),
        409,
    )
    login = api.post("/api/auth/login", json={"username": name, "password": "made-password"})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    promoted = api.patch(
        f"/api/admin/users/{user_id}", headers=admin.headers, json={"role": "admin"}
    )
    assert promoted.status_code == 200 and promoted.json()["data"]["role"] == "admin"
    assert api.get("/api/auth/profile", headers=headers).json()["user"]["role"] == "admin"
    off = api.patch(f"/api/admin/users/{user_id}", headers=admin.headers, json={"is_active": False})
    assert off.status_code == 200 and off.json()["data"]["is_active"] is False
    assert_envelope(api.get("/api/auth/profile", headers=headers), 401)  # their logins ended
    assert_envelope(
        api.post("/api/auth/login", json={"username": name, "password": "made-password"}), 401
    )
    assert_envelope(api.patch(f"/api/admin/users/{user_id}", headers=admin.headers, json={}), 400)
    assert_envelope(
        api.patch(
            f"/api/admin/users/{uuid.uuid4()}", headers=admin.headers, json={"role": "admin"}
        ),
        404,
    )
    assert_envelope(
        api.patch("/api/admin/users/nope", headers=admin.headers, json={"role": "admin"}), 404
    )


def test_the_last_active_admin_remains(
    settings_factory: Callable[..., object], make_account: Callable[..., Account]
) -> None:
    with live_server(settings_factory()) as live, httpx.Client(base_url=live.url) as client:  # type: ignore[arg-type]
        only = make_account("admin", on=live)
        for change in ({"role": "analyst"}, {"is_active": False}):
            error = assert_envelope(
                client.patch(f"/api/admin/users/{only.id}", headers=only.headers, json=change), 409
            )
            assert error["message"] == "At least one active admin must remain"
        second = make_account("admin", on=live)
        demoted = client.patch(
            f"/api/admin/users/{only.id}", headers=second.headers, json={"role": "operative"}
        )
        assert demoted.status_code == 200
        assert_envelope(
            client.patch(
                f"/api/admin/users/{second.id}", headers=second.headers, json={"is_active": False}
            ),
            409,
        )
