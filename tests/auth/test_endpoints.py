"""The six auth endpoints over HTTP: success paths and every documented error."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import TEST_PASSWORD, Account, assert_envelope, unique_name
from tests.live import LiveServer, live_server
from veriscan.core.config import Settings
from veriscan.core.db import utcnow


def test_register_creates_an_operative(api: httpx.Client) -> None:
    name = unique_name()
    response = api.post(
        "/api/auth/register",
        json={"username": name, "email": f"{name}@Example.com", "password": TEST_PASSWORD},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "User registered successfully"
    user = body["user"]
    assert user["username"] == name
    assert user["email"] == f"{name}@example.com"
    assert user["name"] == name
    assert user["role"] == "operative"
    assert "password" not in response.text and "password_hash" not in response.text


def test_register_refuses_a_requested_role_and_creates_nobody(api: httpx.Client) -> None:
    name = unique_name()
    body = {"username": name, "email": f"{name}@example.com", "password": TEST_PASSWORD}
    response = api.post("/api/auth/register", json={**body, "role": "admin"})
    # 400: the documents list 400 and 409 for this endpoint, not 403.
    assert_envelope(response, 400, "ROLE_NOT_ALLOWED")
    login = api.post("/api/auth/login", json={"username": name, "password": TEST_PASSWORD})
    assert login.status_code == 401
    # Asking for what everyone gets is fine.
    created = api.post("/api/auth/register", json={**body, "role": "operative"})
    assert created.status_code == 201, created.text
    assert created.json()["user"]["role"] == "operative"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "someone", "password": TEST_PASSWORD},
        {"username": "someone", "email": "someone@example.com"},
        {"username": "someone", "email": "not-an-email", "password": TEST_PASSWORD},
        {"username": "someone", "email": "someone@example.com", "password": "short"},
        {"username": "a" * 51, "email": "someone@example.com", "password": TEST_PASSWORD},
        {"username": "bad name!", "email": "someone@example.com", "password": TEST_PASSWORD},
        {"username": 12345, "email": "someone@example.com", "password": TEST_PASSWORD},
        {"username": "someone", "email": "someone@example.com", "password": "x" * 129},
        # NIST SP 800-63B: at least 12 characters, and not a common or guessable one.
        {"username": "someone", "email": "someone@example.com", "password": "eleven-char"},
        {"username": "someone", "email": "someone@example.com", "password": "PASSWORD1234"},
        {"username": "someone", "email": "someone@example.com", "password": "aaaaaaaaaaaa"},
        {"username": "someone", "email": "someone@example.com", "password": "123456789012"},
        {"username": "someone", "email": "someone@example.com", "password": "qwertyuiopas"},
    ],
)
def test_register_rejects_invalid_data(api: httpx.Client, body: dict[str, object]) -> None:
    assert_envelope(api.post("/api/auth/register", json=body), 400, "VALIDATION_ERROR")


def test_register_rejects_malformed_json(api: httpx.Client) -> None:
    response = api.post(
        "/api/auth/register", content=b'{"username": ', headers={"content-type": "application/json"}
    )
    error = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "JSON" in error["message"]


def test_register_conflicts_on_username_or_email(api: httpx.Client, account: Account) -> None:
    same_name = api.post(
        "/api/auth/register",
        json={
            "username": account.username.upper(),
            "email": "other@example.com",
            "password": TEST_PASSWORD,
        },
    )
    assert_envelope(same_name, 409, "CONFLICT")
    same_email = api.post(
        "/api/auth/register",
        json={"username": unique_name(), "email": account.email, "password": TEST_PASSWORD},
    )
    error = assert_envelope(same_email, 409, "CONFLICT")
    assert "Email" in error["message"]


def test_login_answers_both_documents(api: httpx.Client, account: Account) -> None:
    for credentials in (
        {"username": account.username, "password": account.password},
        {"email": account.email, "password": account.password},
        {"email": account.email.upper(), "password": account.password},
    ):
        response = api.post("/api/auth/login", json=credentials)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True
        assert body["access_token"] == body["data"]["token"]
        assert body["refresh_token"] != body["access_token"]
        for user in (body["user"], body["data"]["user"]):
            assert user["id"] == account.id
            assert user["username"] == account.username
            assert user["email"] == account.email
            assert user["name"] == account.username
            assert user["role"] == "operative"


def test_login_refuses_wrong_password_and_unknown_user(api: httpx.Client, account: Account) -> None:
    wrong = api.post(
        "/api/auth/login", json={"username": account.username, "password": "wrong-password"}
    )
    unknown = api.post(
        "/api/auth/login", json={"username": "nobody_here", "password": "wrong-password"}
    )
    # The same answer either way: no hint whether the name exists.
    assert (
        assert_envelope(wrong, 401, "UNAUTHORIZED")["message"]
        == assert_envelope(unknown, 401)["message"]
    )


@pytest.mark.parametrize(
    "body", [{}, {"username": "x"}, {"password": "x"}, {"username": "", "password": "x"}]
)
def test_login_requires_fields(api: httpx.Client, body: dict[str, str]) -> None:
    assert_envelope(api.post("/api/auth/login", json=body), 400, "VALIDATION_ERROR")


def test_profile_requires_a_valid_token(api: httpx.Client, account: Account) -> None:
    assert_envelope(api.get("/api/auth/profile"), 401, "UNAUTHORIZED")
    assert_envelope(api.get("/api/auth/profile", headers={"Authorization": "Bearer nonsense"}), 401)
    assert_envelope(
        api.get("/api/auth/profile", headers={"Authorization": f"Basic {account.access_token}"}),
        401,
    )
    response = api.get("/api/auth/profile", headers=account.headers)
    assert response.status_code == 200
    assert response.json()["user"]["id"] == account.id


def test_refresh_gives_a_new_access_token(api: httpx.Client, account: Account) -> None:
    response = api.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {account.refresh_token}"}
    )
    assert response.status_code == 200
    token = response.json()["access_token"]
    assert (
        api.get("/api/auth/profile", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )


def test_token_types_are_not_interchangeable(api: httpx.Client, account: Account) -> None:
    assert_envelope(api.post("/api/auth/refresh", headers=account.headers), 401)
    refresh_as_access = {"Authorization": f"Bearer {account.refresh_token}"}
    assert_envelope(api.get("/api/auth/profile", headers=refresh_as_access), 401)
    assert_envelope(api.post("/api/auth/refresh"), 401)


def test_logout_revokes_the_access_and_refresh_tokens(api: httpx.Client, account: Account) -> None:
    refreshed = api.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {account.refresh_token}"}
    )
    second_access = refreshed.json()["access_token"]
    response = api.post("/api/auth/logout", headers=account.headers)
    assert response.status_code == 200
    assert response.json() == {"message": "Successfully logged out"}
    assert_envelope(api.get("/api/auth/profile", headers=account.headers), 401)
    assert_envelope(
        api.get("/api/auth/profile", headers={"Authorization": f"Bearer {second_access}"}), 401
    )
    assert_envelope(
        api.post("/api/auth/refresh", headers={"Authorization": f"Bearer {account.refresh_token}"}),
        401,
    )
    assert_envelope(api.post("/api/auth/logout", headers=account.headers), 401)


def test_logout_leaves_other_logins_alone(api: httpx.Client, account: Account) -> None:
    other = api.post(
        "/api/auth/login", json={"username": account.username, "password": account.password}
    )
    other_headers = {"Authorization": f"Bearer {other.json()['access_token']}"}
    assert api.post("/api/auth/logout", headers=account.headers).status_code == 200
    assert api.get("/api/auth/profile", headers=other_headers).status_code == 200


def test_update_profile(api: httpx.Client, account: Account) -> None:
    new_name = unique_name("renamed")
    response = api.put(
        "/api/auth/profile",
        headers=account.headers,
        json={"username": new_name, "email": f"{new_name}@example.com", "name": "Jane Analyst"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Profile updated successfully"
    assert body["user"]["username"] == new_name
    assert body["user"]["email"] == f"{new_name}@example.com"
    assert body["user"]["name"] == "Jane Analyst"
    login = api.post(
        "/api/auth/login", json={"email": f"{new_name}@example.com", "password": account.password}
    )
    assert login.status_code == 200


def test_change_password_needs_the_current_one(api: httpx.Client, account: Account) -> None:
    wrong = api.put(
        "/api/auth/profile",
        headers=account.headers,
        json={"current_password": "not-my-password", "new_password": "another-password-1"},
    )
    assert_envelope(wrong, 401, "UNAUTHORIZED")
    missing = api.put(
        "/api/auth/profile", headers=account.headers, json={"new_password": "another-password-1"}
    )
    assert_envelope(missing, 400, "VALIDATION_ERROR")

    other_login = api.post(
        "/api/auth/login", json={"username": account.username, "password": account.password}
    )
    other_headers = {"Authorization": f"Bearer {other_login.json()['access_token']}"}
    ok = api.put(
        "/api/auth/profile",
        headers=account.headers,
        json={"current_password": account.password, "new_password": "another-password-1"},
    )
    assert ok.status_code == 200
    assert_envelope(
        api.post(
            "/api/auth/login", json={"username": account.username, "password": account.password}
        ),
        401,
    )
    assert (
        api.post(
            "/api/auth/login", json={"username": account.username, "password": "another-password-1"}
        ).status_code
        == 200
    )
    # The session that changed the password goes on; every other login ends.
    assert api.get("/api/auth/profile", headers=account.headers).status_code == 200
    assert_envelope(api.get("/api/auth/profile", headers=other_headers), 401)


def test_update_profile_errors(
    api: httpx.Client, account: Account, make_account: Callable[..., Account]
) -> None:
    assert_envelope(
        api.put("/api/auth/profile", headers=account.headers, json={}), 400, "VALIDATION_ERROR"
    )
    assert_envelope(
        api.put("/api/auth/profile", headers=account.headers, json={"email": "nope"}), 400
    )
    other = make_account()
    assert_envelope(
        api.put("/api/auth/profile", headers=account.headers, json={"username": other.username}),
        409,
    )
    assert_envelope(
        api.put("/api/auth/profile", headers=account.headers, json={"email": other.email}), 409
    )
    assert_envelope(api.put("/api/auth/profile", json={"name": "x"}), 401)


def test_inactive_users_are_refused(
    api: httpx.Client, account: Account, server: LiveServer
) -> None:
    from veriscan.accounts.models import User

    with server.context.db.session() as session:
        user = session.get(User, __import__("uuid").UUID(account.id))
        assert user is not None
        user.is_active = False
        user.updated_at = utcnow()
    assert_envelope(api.get("/api/auth/profile", headers=account.headers), 401)
    assert_envelope(
        api.post("/api/auth/refresh", headers={"Authorization": f"Bearer {account.refresh_token}"}),
        401,
    )
    assert_envelope(
        api.post(
            "/api/auth/login", json={"username": account.username, "password": account.password}
        ),
        401,
    )


def test_roles_are_reported(make_account: Callable[..., Account], api: httpx.Client) -> None:
    for role in ("admin", "analyst", "operative"):
        acct = make_account(role)
        assert api.get("/api/auth/profile", headers=acct.headers).json()["user"]["role"] == role


def test_the_password_policy_says_why(api: httpx.Client, account: Account) -> None:
    name = unique_name()
    body = {"username": name, "email": f"{name}@example.com"}
    short = api.post("/api/auth/register", json={**body, "password": "eleven-char"})
    assert "at least 12 characters" in assert_envelope(short, 400, "VALIDATION_ERROR")["message"]
    common = api.post("/api/auth/register", json={**body, "password": "iloveyou1234"})
    assert (
        "too common or too easy to guess"
        in (assert_envelope(common, 400, "VALIDATION_ERROR")["message"])
    )
    # A new password in the profile follows the same policy.
    change = api.put(
        "/api/auth/profile",
        headers=account.headers,
        json={"current_password": TEST_PASSWORD, "new_password": "password1234"},
    )
    assert_envelope(change, 400, "VALIDATION_ERROR")


def test_closed_registration_leaves_account_creation_to_admins(
    settings_factory: Callable[..., Settings], make_account: Callable[..., Account]
) -> None:
    with (
        live_server(settings_factory(registration="closed")) as live,
        httpx.Client(base_url=live.url) as client,
    ):
        name = unique_name()
        body = {"username": name, "email": f"{name}@example.com", "password": TEST_PASSWORD}
        refused = client.post("/api/auth/register", json=body)
        assert_envelope(refused, 403, "REGISTRATION_CLOSED")
        admin = make_account("admin", on=live)
        created = client.post("/api/admin/users", headers=admin.headers, json=body)
        assert created.status_code == 201, created.text
        login = client.post("/api/auth/login", json={"username": name, "password": TEST_PASSWORD})
        assert login.status_code == 200
