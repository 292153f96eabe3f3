"""Tokens that must be refused: forged, expired, wrong type, signed with another secret."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer
from veriscan.core.security import Tokens, derive_key


def _claims(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_tokens_carry_type_expiry_and_id(account: Account) -> None:
    access, refresh = _claims(account.access_token), _claims(account.refresh_token)
    assert access["type"] == "access" and refresh["type"] == "refresh"
    assert access["sub"] == refresh["sub"] == account.id
    assert access["jti"] != refresh["jti"]
    assert access["sid"] == refresh["sid"]
    assert int(access["exp"]) - int(access["iat"]) == 60 * 60  # type: ignore[call-overload]


def test_alg_none_is_refused(api: httpx.Client, account: Account) -> None:
    claims = _claims(account.access_token)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(
        b"="
    )
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    forged = f"{header.decode()}.{payload.decode()}."
    assert_envelope(
        api.get("/api/auth/profile", headers={"Authorization": f"Bearer {forged}"}), 401
    )


def test_a_token_signed_with_another_secret_is_refused(api: httpx.Client, account: Account) -> None:
    claims = _claims(account.access_token)
    forged = jwt.encode(
        claims, derive_key(b"some other secret", "veriscan jwt v1"), algorithm="HS256"
    )
    assert_envelope(
        api.get("/api/auth/profile", headers={"Authorization": f"Bearer {forged}"}), 401
    )


def test_an_expired_token_is_refused(
    api: httpx.Client, account: Account, server: LiveServer
) -> None:
    tokens: Tokens = server.context.tokens
    claims = _claims(account.access_token)
    short = Tokens(
        server.settings.secrets(), access_ttl=timedelta(seconds=1), refresh_ttl=tokens.refresh_ttl
    )
    token = short.issue(uuid.UUID(account.id), uuid.UUID(str(claims["sid"])), "access")
    assert (
        api.get("/api/auth/profile", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    time.sleep(2.1)
    assert_envelope(api.get("/api/auth/profile", headers={"Authorization": f"Bearer {token}"}), 401)


def test_a_token_whose_session_has_expired_is_refused(
    api: httpx.Client, account: Account, server: LiveServer
) -> None:
    # The token itself is still good for an hour; its session (a login of its own, so
    # the module's account keeps its own) is past its end.
    from sqlalchemy import update

    from veriscan.accounts.models import AuthSession
    from veriscan.core.db import utcnow

    login = api.post(
        "/api/auth/login", json={"username": account.username, "password": account.password}
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/auth/profile", headers=headers).status_code == 200
    with server.context.db.session() as session:
        session.execute(
            update(AuthSession)
            .where(AuthSession.id == uuid.UUID(str(_claims(token)["sid"])))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert_envelope(api.get("/api/auth/profile", headers=headers), 401)
    assert api.get("/api/auth/profile", headers=account.headers).status_code == 200


def test_tokens_from_a_previous_secret_still_work_after_rotation(
    settings_factory: Any, account: Account, server: LiveServer
) -> None:
    from tests.live import live_server

    old_secret = server.settings.secret_key.get_secret_value()
    rotated = settings_factory(
        secret_key="a-brand-new-secret-value",
        previous_secret_keys=old_secret,
        database_url=server.settings.database_url,
        workers=0,
    )
    with live_server(rotated) as live, httpx.Client(base_url=live.url) as client:
        assert client.get("/api/auth/profile", headers=account.headers).status_code == 200
