"""VirusTotal's v3 REST API over httpx.

Errors are told apart by VirusTotal's error `code`, never by its message. The key goes
in the x-apikey header; where VirusTotal wants it in the path (GET /users/{key}), the URL
is never logged (httpx's request log is kept at WARNING by the service's logging setup).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx


class KeyCheck(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class KeyValidation:
    status: KeyCheck
    message: str
    quotas: dict[str, Any] | None = None


class VirusTotalError(Exception):
    """An answer from VirusTotal that is an error, with its code and HTTP status."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(f"{code} ({status_code}): {message}")
        self.status_code = status_code
        self.code = code
        self.message = message


class VirusTotalUnreachable(Exception):
    """No answer: connection refused, timeout, or a response that is not VirusTotal's."""


def error_from(response: httpx.Response) -> VirusTotalError:
    try:
        error = response.json().get("error", {})
        code = str(error.get("code") or "UnknownError")
        message = str(error.get("message") or "")
    except (ValueError, AttributeError):
        code, message = "UnknownError", ""
    return VirusTotalError(response.status_code, code, message[:300])


class VirusTotalClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _client(self, api_key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers={"x-apikey": api_key, "accept": "application/json"},
            timeout=self.timeout,
            follow_redirects=False,
        )

    async def get_user(self, api_key: str) -> dict[str, Any]:
        """GET /users/{key}: the key's owner and quotas. Raises on any failure."""
        try:
            async with self._client(api_key) as client:
                response = await client.get(f"/users/{quote(api_key, safe='')}")
        except httpx.HTTPError as exc:
            raise VirusTotalUnreachable(type(exc).__name__) from None
        if response.status_code >= 400:
            raise error_from(response)
        try:
            data = response.json()["data"]
        except (ValueError, KeyError, TypeError):
            raise VirusTotalUnreachable("the answer is not VirusTotal's JSON") from None
        return dict(data)

    def session(self, api_key: str) -> VirusTotalSession:
        """A connection pool for one key, for the requests of one scan."""
        return VirusTotalSession(self._client(api_key))

    async def validate_key(self, api_key: str) -> KeyValidation:
        try:
            user = await self.get_user(api_key)
        except VirusTotalUnreachable as exc:
            return KeyValidation(
                KeyCheck.UNREACHABLE,
                f"VirusTotal could not be reached ({exc}); the key was not checked",
            )
        except VirusTotalError as exc:
            if exc.code in (
                "WrongCredentialsError",
                "AuthenticationRequiredError",
                "ForbiddenError",
            ):
                return KeyValidation(KeyCheck.INVALID, "API key is invalid: VirusTotal refused it")
            if exc.code == "QuotaExceededError" or exc.status_code == 429:
                return KeyValidation(
                    KeyCheck.VALID, "API key is valid (its quota is used up for now)"
                )
            if exc.status_code >= 500:
                return KeyValidation(
                    KeyCheck.UNREACHABLE,
                    f"VirusTotal answered with an error ({exc.code}); the key was not checked",
                )
            return KeyValidation(KeyCheck.INVALID, f"API key is invalid: {exc.code}")
        quotas = user.get("attributes", {}).get("quotas") if isinstance(user, dict) else None
        return KeyValidation(KeyCheck.VALID, "API key is valid", quotas)


DIRECT_UPLOAD_LIMIT = 32 * 1024 * 1024  # POST /files; above it, a one-use upload URL


class VirusTotalSession:
    """The v3 calls a scan makes, each one request. Callers take quota before each call."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def __aenter__(self) -> VirusTotalSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise VirusTotalUnreachable(type(exc).__name__) from None
        if response.status_code >= 400:
            raise error_from(response)
        try:
            body = response.json()
        except ValueError:
            raise VirusTotalUnreachable("the answer is not VirusTotal's JSON") from None
        if not isinstance(body, dict):
            raise VirusTotalUnreachable("the answer is not VirusTotal's JSON")
        return body

    async def get_user(self, api_key: str) -> dict[str, Any]:
        return (await self._json("GET", f"/users/{quote(api_key, safe='')}")).get("data") or {}

    async def get_file(self, sha256: str) -> dict[str, Any] | None:
        """The file object, or None when VirusTotal does not know the file."""
        try:
            return (await self._json("GET", f"/files/{sha256}")).get("data") or {}
        except VirusTotalError as exc:
            if exc.code == "NotFoundError":
                return None
            raise

    async def upload_url(self) -> str:
        data = (await self._json("GET", "/files/upload_url")).get("data")
        if not isinstance(data, str) or not data.startswith(("http://", "https://")):
            raise VirusTotalUnreachable("no upload URL in the answer")
        return data

    async def upload(self, path: Any, filename: str, *, url: str = "/files") -> str:
        """Stream a file to VirusTotal; returns the analysis id."""
        # httpx streams the part from the open file in 64 KB reads; each scan has its own
        # event loop on a worker thread, so these short blocking reads stall no one else.
        with open(path, "rb") as handle:  # noqa: ASYNC230
            body = await self._json(
                "POST", url, files={"file": (filename or "sample", handle)}, timeout=600.0
            )
        return _analysis_id(body)

    async def reanalyse(self, sha256: str) -> str:
        return _analysis_id(await self._json("POST", f"/files/{sha256}/analyse"))

    async def get_analysis(self, analysis_id: str) -> dict[str, Any]:
        return await self._json("GET", f"/analyses/{quote(analysis_id, safe='')}")


def _analysis_id(body: dict[str, Any]) -> str:
    data = body.get("data") or {}
    analysis_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(analysis_id, str) or not analysis_id:
        raise VirusTotalUnreachable("no analysis id in the answer")
    return analysis_id
