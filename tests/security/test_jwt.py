"""Tokens an attacker can make or replay are refused by every protected endpoint and by
socket.io: forged, expired, of the other type, revoked, garbled, or not sent as Bearer.

tests/auth/test_tokens.py checks the basic cases on one endpoint; here each kind of bad
credential meets several endpoints (an admin's, so that a forgery would be worth most).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
import socketio
from jwt.warnings import InsecureKeyLengthWarning

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer
from tests.security.helpers import login, new_account
from veriscan.core.security import JWT_ALGORITHM, derive_key

JWT_PURPOSE = "veriscan jwt v1"
# Protected endpoints of each domain, all of which the admin below may use.
PROTECTED = (
    ("GET", "/api/auth/profile"),
    ("GET", "/api/files/"),
    ("GET", "/api/keys/"),
    ("GET", "/api/scan/results"),
    ("GET", "/api/scans/history"),
    ("GET", "/api/admin/stats"),
    ("POST", "/api/auth/logout"),
)


@dataclass
class Setting:
    server: LiveServer
    api: httpx.Client
    admin: Account

    @property
    def right_key(self) -> bytes:
        return derive_key(self.server.settings.secrets()[0], JWT_PURPOSE)

    def claims(self, token: str | None = None) -> dict[str, Any]:
        return dict(
            jwt.decode(token or self.admin.access_token, options={"verify_signature": False})
        )


@pytest.fixture(scope="module")
def setting(server: LiveServer) -> Iterator[Setting]:
    with httpx.Client(base_url=server.url, timeout=30) as api:
        yield Setting(server, api, new_account(server, "admin"))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any], alg: str) -> str:
    return f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims)}."


def _signed(s: Setting, key: bytes, algorithm: str = JWT_ALGORITHM, **changes: Any) -> str:
    claims = {**s.claims(), "jti": uuid.uuid4().hex, **changes}
    claims = {name: value for name, value in claims.items() if value is not None}
    with warnings.catch_warnings():
        # The service's 32-byte key is short for HS512: that is this forgery's point.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=algorithm)


def _without(claim: str) -> Callable[[Setting], str]:
    def make(s: Setting) -> str:
        claims = {k: v for k, v in s.claims().items() if k != claim}
        return jwt.encode(claims, s.right_key, algorithm=JWT_ALGORITHM)

    return make


def _revoked(s: Setting) -> str:
    session = login(s.api, s.admin)
    token = str(session["access_token"])
    logged_out = s.api.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert logged_out.status_code == 200, logged_out.text
    return token


def _someone_elses_session(s: Setting) -> str:
    """The admin's id with another user's (valid, live) session: sessions are per user."""
    other = new_account(s.server)
    return _signed(s, s.right_key, sid=s.claims(other.access_token)["sid"])


NOW = int(time.time())
# Each makes a token that looks like the admin's and must be refused everywhere.
BAD_TOKENS: dict[str, Callable[[Setting], str]] = {
    "alg none": lambda s: _unsigned(s.claims(), "none"),
    "alg None": lambda s: _unsigned(s.claims(), "None"),
    "alg none with the real signature": lambda s: (
        _unsigned(s.claims(), "none") + s.admin.access_token.rsplit(".", 1)[1]
    ),
    "another secret through the same HKDF": lambda s: _signed(
        s, derive_key(b"not the service secret", JWT_PURPOSE)
    ),
    "the raw secret instead of the derived key": lambda s: _signed(
        s, s.server.settings.secrets()[0]
    ),
    "the key derived for another purpose": lambda s: _signed(
        s, derive_key(s.server.settings.secrets()[0], "veriscan fernet v1")
    ),
    "the right key with HS512": lambda s: _signed(s, s.right_key, "HS512"),
    "a tampered payload": lambda s: (
        s.admin.access_token.split(".")[0]
        + "."
        + _b64({**s.claims(), "exp": NOW + 10**6})
        + "."
        + s.admin.access_token.split(".")[2]
    ),
    "expired": lambda s: _signed(s, s.right_key, iat=NOW - 7200, exp=NOW - 3600),
    "no expiry": lambda s: _signed(s, s.right_key, exp=None),
    "another issuer": lambda s: _signed(s, s.right_key, iss="someone-else"),
    "no type": _without("type"),
    "no session": _without("sid"),
    "no token id": _without("jti"),
    "type admin": lambda s: _signed(s, s.right_key, type="admin"),
    "a refresh token": lambda s: s.admin.refresh_token,
    "an unknown user": lambda s: _signed(s, s.right_key, sub=str(uuid.uuid4())),
    "a user id that is no UUID": lambda s: _signed(s, s.right_key, sub="admin"),
    "an unknown session": lambda s: _signed(s, s.right_key, sid=str(uuid.uuid4())),
    "another user's session": _someone_elses_session,
    "revoked by logout": _revoked,
    "empty": lambda s: "",
    "garbage": lambda s: "not-a-jwt",
    "three empty parts": lambda s: "..",
    "undecodable parts": lambda s: "%%%.***.!!!",
    "random base64": lambda s: ".".join(secrets.token_urlsafe(40) for _ in range(3)),
    "five parts (JWE-like)": lambda s: s.admin.access_token + ".AAAA.BBBB",
    "8 KB long": lambda s: "a" * 8192,
    "the token twice": lambda s: f"{s.admin.access_token} {s.admin.access_token}",
}


@pytest.fixture(params=sorted(BAD_TOKENS), ids=lambda name: name.replace(" ", "-"))
def bad_token(request: pytest.FixtureRequest, setting: Setting) -> str:
    return BAD_TOKENS[request.param](setting)


def _call(s: Setting, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    return s.api.request(method, path, headers=headers)


def test_the_admin_token_itself_opens_every_endpoint(setting: Setting) -> None:
    """The control: what the other tests refuse is refused for the token, not the route,
    and the forgeries made with the service's own key differ from a good token only in
    the claim they change."""
    remade = _signed(setting, setting.right_key)  # same claims, a new jti, the real key
    for token in (setting.admin.access_token, remade):
        for method, path in PROTECTED[:-1]:  # not logout: it would end the session
            response = _call(setting, method, path, {"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, (path, response.text)


def test_a_bad_bearer_token_is_refused_everywhere(setting: Setting, bad_token: str) -> None:
    for method, path in PROTECTED:
        # (an empty token is sent as "Bearer" alone: HTTP allows no trailing space)
        header = f"Bearer {bad_token}".strip()
        response = _call(setting, method, path, {"Authorization": header})
        assert_envelope(response, 401, "UNAUTHORIZED")
        assert response.headers["www-authenticate"] == "Bearer"
    # The forged or replayed token did not log the admin out either.
    assert _call(setting, "GET", "/api/auth/profile", setting.admin.headers).status_code == 200


def test_only_a_live_refresh_token_refreshes(setting: Setting) -> None:
    s = setting
    refresh = "/api/auth/refresh"
    session = login(s.api, s.admin)
    assert_envelope(
        s.api.post(refresh, headers={"Authorization": f"Bearer {session['access_token']}"}), 401
    )
    refresh_claims = s.claims(session["refresh_token"])
    for forged in (
        _unsigned(refresh_claims, "none"),
        jwt.encode(refresh_claims, derive_key(b"other", JWT_PURPOSE), algorithm=JWT_ALGORITHM),
        jwt.encode(
            {**refresh_claims, "exp": NOW - 60, "iat": NOW - 120},
            s.right_key,
            algorithm=JWT_ALGORITHM,
        ),
    ):
        response = s.api.post(refresh, headers={"Authorization": f"Bearer {forged}"})
        assert_envelope(response, 401, "UNAUTHORIZED")
    good = s.api.post(refresh, headers={"Authorization": f"Bearer {session['refresh_token']}"})
    assert good.status_code == 200, good.text
    s.api.post("/api/auth/logout", headers={"Authorization": f"Bearer {session['access_token']}"})
    for token in (session["refresh_token"], good.json()["access_token"]):
        response = s.api.post(refresh, headers={"Authorization": f"Bearer {token}"})
        assert_envelope(response, 401, "UNAUTHORIZED")
    # A refresh token is no way into the API either, before or after logout.
    assert_envelope(
        s.api.get(
            "/api/auth/profile", headers={"Authorization": f"Bearer {s.admin.refresh_token}"}
        ),
        401,
    )


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda token: {"Authorization": token},
        lambda token: {"Authorization": f"Token {token}"},
        lambda token: {"Authorization": f"JWT {token}"},
        lambda token: {"Authorization": f"Bearer{token}"},
        lambda token: {"Authorization": "Bearer"},
        lambda token: {
            "Authorization": "Basic " + base64.b64encode(f"admin:{token}".encode()).decode()
        },
        lambda token: {"X-Access-Token": token},
        lambda token: {"Cookie": f"token={token}; access_token={token}"},
        lambda token: {"Authorization": b"Bearer \xff\xfe"},
    ],
    ids=[
        "no-scheme",
        "Token-scheme",
        "JWT-scheme",
        "Bearer-glued",
        "Bearer-alone",
        "Basic",
        "other-header",
        "cookie",
        "non-utf8",
    ],
)
def test_a_token_not_sent_as_bearer_is_refused(
    setting: Setting, make_headers: Callable[[str], dict[str, Any]]
) -> None:
    headers = make_headers(setting.admin.access_token)
    for method, path in PROTECTED:
        assert_envelope(_call(setting, method, path, headers), 401, "UNAUTHORIZED")


def test_a_token_in_the_query_string_is_ignored(setting: Setting) -> None:
    token = setting.admin.access_token
    for method, path in PROTECTED:
        params = {"token": token, "access_token": token, "auth": token}
        assert_envelope(setting.api.request(method, path, params=params), 401, "UNAUTHORIZED")


def _socket_refused(server: LiveServer, auth: Any, query: str = "", **options: Any) -> bool:
    client = socketio.Client(reconnection=False)
    try:
        client.connect(
            server.url + query, auth=auth, transports=["websocket"], wait_timeout=10, **options
        )
    except socketio.exceptions.ConnectionError:
        return True
    client.disconnect()
    return False


def test_socketio_accepts_the_access_token_and_nothing_else(setting: Setting) -> None:
    s = setting
    assert not _socket_refused(s.server, {"token": s.admin.access_token})
    refused = {
        name: _socket_refused(s.server, {"token": make(s)}) for name, make in BAD_TOKENS.items()
    }
    assert [name for name, was in refused.items() if not was] == []
    token = s.admin.access_token
    # Only auth.token counts: not a header, a cookie, the query string or another field.
    for auth, options in (
        (None, {}),
        ({"access_token": token}, {}),
        ({"token": [token]}, {}),
        ({"token": {"token": token}}, {}),
        (None, {"headers": {"Authorization": f"Bearer {token}"}}),
        (None, {"headers": {"Cookie": f"token={token}"}}),
        (None, {"query": f"?token={token}"}),
    ):
        assert _socket_refused(s.server, auth, **options), (auth, options)
