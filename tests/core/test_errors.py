"""Every error, whatever produced it, answers in the contract's envelope."""

from __future__ import annotations

import httpx

from tests.conftest import Account, assert_envelope


def test_unknown_routes(api: httpx.Client) -> None:
    error = assert_envelope(api.get("/api/nothing-here"), 404, "NOT_FOUND")
    assert error["message"] == "No route for GET /api/nothing-here"
    assert_envelope(api.get("/not-api-either"), 404, "NOT_FOUND")


def test_wrong_methods(api: httpx.Client) -> None:
    assert_envelope(api.patch("/api/auth/login"), 405, "METHOD_NOT_ALLOWED")
    assert_envelope(api.delete("/api/files/"), 405, "METHOD_NOT_ALLOWED")


def test_validation_errors_are_400(api: httpx.Client, account: Account) -> None:
    error = assert_envelope(
        api.post("/api/auth/login", json=["not", "an", "object"]), 400, "VALIDATION_ERROR"
    )
    assert error["timestamp"].endswith("Z")
    assert_envelope(
        api.post(
            "/api/auth/login", content=b"\xff\xfe", headers={"content-type": "application/json"}
        ),
        400,
    )
    assert_envelope(
        api.post("/api/auth/login", content=b"username=x", headers={"content-type": "text/plain"}),
        400,
    )
    long = "x" * 100_000
    assert_envelope(api.post("/api/auth/login", json={"username": long, "password": long}), 400)
    assert_envelope(
        api.put("/api/auth/profile", headers=account.headers, json={"name": "n" * 101}), 400
    )


def test_openapi_and_docs_are_served(api: httpx.Client) -> None:
    schema = api.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/profile",
        "/api/auth/logout",
        "/api/keys/",
        "/api/keys/{key_id}",
        "/api/keys/validate",
        "/api/files/upload",
        "/api/files/",
        "/api/files/{file_id}",
    ):
        assert path in paths, path
    upload = paths["/api/files/upload"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "400" in upload["responses"] and "401" in upload["responses"]
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
