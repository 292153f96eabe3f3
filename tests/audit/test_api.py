"""The audit log's API: admins only, filters, pages, the CSV export, no edits."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.audit.helpers import entries, only
from tests.conftest import Account, assert_envelope

COLUMNS = [
    "created_at",
    "actor_username",
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "ip_address",
    "user_agent",
    "details",
]


@pytest.fixture
def admin(make_account: Callable[..., Account]) -> Account:
    return make_account("admin")


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


def test_only_admins_read_the_log(api: httpx.Client, make_account: Callable[..., Account]) -> None:
    for role in ("operative", "analyst"):
        account = make_account(role)
        assert_envelope(api.get("/api/admin/audit", headers=account.headers), 403, "FORBIDDEN")
        assert_envelope(
            api.get("/api/admin/audit/export", headers=account.headers), 403, "FORBIDDEN"
        )
    assert_envelope(api.get("/api/admin/audit"), 401)
    assert_envelope(api.get("/api/admin/audit/export"), 401)


def test_entries_cannot_be_changed(api: httpx.Client, admin: Account) -> None:
    before = entries(api, admin)[0]
    for path in ("/api/admin/audit", "/api/admin/audit/export"):
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            response = api.request(method, path, headers=admin.headers, json={"action": "x"})
            assert_envelope(response, 405)
    # Nor one entry by its id: there is no such route.
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = api.request(method, f"/api/admin/audit/{before['id']}", headers=admin.headers)
        assert response.status_code in (404, 405)
        assert response.json()["success"] is False
    assert only(api, admin, date_from=before["created_at"], date_to=before["created_at"]) == before


def test_filters_and_pages(
    api: httpx.Client, admin: Account, make_account: Callable[..., Account]
) -> None:
    account = make_account()  # registered and signed in: two auth.* entries
    api.put("/api/auth/profile", headers=account.headers, json={"name": "Filtered"})
    mine = entries(api, admin, actor=account.username)
    assert [e["action"] for e in mine] == ["auth.profile_updated", "auth.login", "auth.register"]
    assert entries(api, admin, actor=account.id) == mine
    assert entries(api, admin, actor=account.username.upper()) == mine
    assert [e["action"] for e in entries(api, admin, actor=account.id, action="auth.lo")] == []
    assert [e["action"] for e in entries(api, admin, actor=account.id, action="auth.login")] == [
        "auth.login"
    ]
    assert len(entries(api, admin, actor=account.id, action="auth.")) == 3
    assert entries(api, admin, actor=account.id, action="file.") == []
    assert len(entries(api, admin, actor=account.id, target_type="user")) == 3
    assert len(entries(api, admin, actor=account.id, target_id=account.id)) == 3
    assert len(entries(api, admin, actor=account.id, ip="127.0.0.1")) == 3
    assert entries(api, admin, actor=account.id, ip="10.0.0.1") == []
    assert entries(api, admin, actor=str(uuid.uuid4())) == []

    today = datetime.now(UTC).date()
    assert len(entries(api, admin, actor=account.id, date_from=today.isoformat())) == 3
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert entries(api, admin, actor=account.id, date_from=tomorrow) == []
    yesterday = (today - timedelta(days=1)).isoformat()
    assert entries(api, admin, actor=account.id, date_to=yesterday) == []
    newest = mine[0]["created_at"]
    assert [e["created_at"] for e in entries(api, admin, actor=account.id, date_from=newest)] == [
        newest
    ]
    for bad in (
        {"date_from": "yesterday"},
        {"date_from": "\x0b"},  # found by fuzzing: a blank was taken for no bound
        {"date_from": tomorrow, "date_to": yesterday},
        {"actor": "a\x00b"},
    ):
        assert_envelope(api.get("/api/admin/audit", headers=admin.headers, params=bad), 400)
        assert_envelope(api.get("/api/admin/audit/export", headers=admin.headers, params=bad), 400)
    # An empty value (a form's blank field) is no bound.
    assert len(entries(api, admin, actor=account.id, date_from="")) == 3
    for bad_page in ({"per_page": 0}, {"per_page": 101}, {"page": 0}, {"page": "x"}):
        assert_envelope(api.get("/api/admin/audit", headers=admin.headers, params=bad_page), 400)

    pages = []
    for page in (1, 2, 3, 4):
        response = api.get(
            "/api/admin/audit",
            headers=admin.headers,
            params={"actor": account.id, "per_page": 1, "page": page},
        )
        assert response.status_code == 200
        body = response.json()
        assert body["pagination"] == {"total": 3, "page": page, "per_page": 1, "pages": 3}
        pages += body["data"]
    assert pages == mine  # newest first, no gaps, nothing after the last page


def test_csv_export(
    api: httpx.Client, admin: Account, make_account: Callable[..., Account]
) -> None:
    account = make_account()
    formula = '=HYPERLINK("http://evil.example","click")'
    api.put(
        "/api/auth/profile",
        headers={**account.headers, "User-Agent": formula},
        json={"name": "Exported"},
    )
    response = api.get(
        "/api/admin/audit/export",
        headers={**admin.headers, "User-Agent": "exporter/2"},
        params={"format": "csv", "actor": account.username},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="veriscan-audit-')
    assert disposition.endswith('.csv"')
    assert next(csv.reader(io.StringIO(response.text))) == COLUMNS
    rows = _rows(response)
    assert [row["action"] for row in rows] == [
        "auth.profile_updated",
        "auth.login",
        "auth.register",
    ]
    listed = entries(api, admin, actor=account.id)
    for row, entry in zip(rows, listed, strict=True):
        assert row["actor_id"] == account.id and row["actor_username"] == account.username
        assert row["target_id"] == entry["target_id"] and row["ip_address"] == "127.0.0.1"
        assert row["created_at"].endswith("Z")
    assert rows[0]["user_agent"] == "'" + formula  # neutralised for spreadsheets
    assert rows[0]["details"] == '{"fields": ["name"]}'

    export = only(api, admin, action="audit.export", actor=admin.id)
    assert export["target_type"] == "audit" and export["ip_address"] == "127.0.0.1"
    assert export["user_agent"] == "exporter/2"
    assert export["details"] == {"format": "csv", "filters": {"actor": account.username}}

    # The same filters as the listing; the export itself is in a later one.
    again = api.get("/api/admin/audit/export", headers=admin.headers, params={"action": "audit."})
    assert again.status_code == 200
    assert {row["action"] for row in _rows(again)} == {"audit.export"}
    assert sum(row["actor_id"] == admin.id for row in _rows(again)) == 2
    for bad in ({"format": "xlsx"}, {"date_from": "nope"}):
        assert_envelope(api.get("/api/admin/audit/export", headers=admin.headers, params=bad), 400)


def test_the_api_document_describes_the_log(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert set(paths["/api/admin/audit"]) == {"get"}
    assert set(paths["/api/admin/audit/export"]) == {"get"}
    listing = paths["/api/admin/audit"]["get"]
    assert {"400", "401", "403", "429"} <= set(listing["responses"])
    names = {p["name"] for p in listing["parameters"]}
    assert names >= {"actor", "action", "target_type", "target_id", "ip", "date_from", "date_to"}
    assert "text/csv" in paths["/api/admin/audit/export"]["get"]["responses"]["200"]["content"]
