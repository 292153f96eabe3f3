"""Helpers for the security suite: accounts outside function scope, raw HTTP, the schema."""

from __future__ import annotations

import re
import socket
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import TEST_PASSWORD, Account, unique_name
from tests.live import LiveServer
from veriscan.accounts.models import Role
from veriscan.auth import service as auth_service

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
PATH_PARAMETER = re.compile(r"\{([^}]+)\}")
# What every /api answer must carry (core/guard.py), errors included.
API_SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def new_account(server: LiveServer, role: str = "operative") -> Account:
    """Like the `make_account` fixture, for fixtures of a wider scope."""
    username = unique_name(role)
    email = f"{username}@example.com"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        if role == "operative":
            response = client.post(
                "/api/auth/register",
                json={"username": username, "email": email, "password": TEST_PASSWORD},
            )
            assert response.status_code == 201, response.text
        else:
            with server.context.db.session() as session:
                auth_service.create_user(
                    session,
                    server.context,
                    username=username,
                    email=email,
                    password=TEST_PASSWORD,
                    role=Role(role),
                )
        login = client.post(
            "/api/auth/login", json={"username": username, "password": TEST_PASSWORD}
        )
        assert login.status_code == 200, login.text
        body = login.json()
    return Account(
        id=body["user"]["id"],
        username=username,
        email=email,
        password=TEST_PASSWORD,
        role=role,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
    )


def login(api: httpx.Client, account: Account) -> dict[str, Any]:
    """A second session of the same user (tokens of its own, revocable on their own)."""
    response = api.post(
        "/api/auth/login", json={"username": account.username, "password": account.password}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


# Bytes read past the end of a response (the start of the next one, when pipelined
# responses arrive in one read), kept for the next call on the same socket.
_UNREAD: weakref.WeakKeyDictionary[socket.socket, bytes] = weakref.WeakKeyDictionary()


def read_response(sock: socket.socket) -> RawResponse:
    """One HTTP/1.1 response with a Content-Length (all this service sends). What one read
    brings of the responses after it is kept for the next call on the same socket."""
    data = _UNREAD.pop(sock, b"")
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response head: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a response body"
        rest += chunk
    if len(rest) > length:
        _UNREAD[sock] = rest[length:]
    return RawResponse(int(status_line.split(" ")[1]), headers, rest[:length])


def is_closed(sock: socket.socket, timeout: float = 5.0) -> bool:
    """True when the server closed the connection (it does so at once when it means to)."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def raw_exchange(server: LiveServer, request: bytes) -> tuple[RawResponse, bool]:
    """Send bytes as they are (no client normalises them); the response and whether the
    server then closed the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        response = read_response(sock)
        return response, is_closed(sock)


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) for every operation the schema lists."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def path_parameters(path: str) -> list[str]:
    return PATH_PARAMETER.findall(path)


def fill(path: str, values: dict[str, str]) -> str:
    return PATH_PARAMETER.sub(lambda m: values[m.group(1)], path)


def combinations(path: str, ids: dict[str, list[str]]) -> list[dict[str, str]]:
    """Every way to fill the path's parameters from these values (KeyError: unknown)."""
    filled: list[dict[str, str]] = [{}]
    for name in path_parameters(path):
        filled = [{**values, name: value} for values in filled for value in ids[name]]
    return filled


def enum_queries(operation: dict[str, Any]) -> list[dict[str, str]]:
    """One query per value of the operation's `format` parameter (the export formats; a
    single format is a `const`), else just the empty query."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        enum = schema.get("enum") or ([schema["const"]] if "const" in schema else None)
        if parameter["in"] == "query" and enum and parameter["name"] == "format":
            return [{parameter["name"]: value} for value in enum]
    return [{}]


def assert_api_headers(response: httpx.Response | RawResponse, what: str) -> None:
    for name, value in API_SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (what, name, dict(response.headers))
