"""Reading the audit log in tests, through the admin API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Account


def entries(api: httpx.Client, admin: Account, **params: Any) -> list[dict[str, Any]]:
    """Every entry that matches the filters, newest first (at most 100)."""
    response = api.get(
        "/api/admin/audit", headers=admin.headers, params={"per_page": 100, **params}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    data: list[dict[str, Any]] = body["data"]
    return data


def only(api: httpx.Client, admin: Account, **params: Any) -> dict[str, Any]:
    """The one entry that matches the filters."""
    found = entries(api, admin, **params)
    assert len(found) == 1, found
    return found[0]


def actions(api: httpx.Client, admin: Account, **params: Any) -> list[str]:
    return [entry["action"] for entry in entries(api, admin, **params)]
