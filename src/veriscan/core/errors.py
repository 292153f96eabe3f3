"""The one error type of the service and the envelope every error is rendered in."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("veriscan.errors")


class VeriscanError(Exception):
    """An error a client is meant to see: it carries its HTTP status and stable code."""

    status_code = 400
    code = "BAD_REQUEST"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        self.headers = headers


class ValidationFailed(VeriscanError):
    status_code = 400
    code = "VALIDATION_ERROR"


class Unauthorized(VeriscanError):
    status_code = 401
    code = "UNAUTHORIZED"

    def __init__(self, message: str = "Invalid or expired token") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(VeriscanError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(VeriscanError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(VeriscanError):
    status_code = 409
    code = "CONFLICT"


class PayloadTooLarge(VeriscanError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class RateLimited(VeriscanError):
    status_code = 429
    code = "RATE_LIMITED"


_CODES_BY_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def envelope(status_code: int, code: str, message: str) -> dict[str, Any]:
    return {
        "success": False,
        "error": {
            "message": message,
            "code": code,
            "statusCode": status_code,
            "timestamp": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        },
    }


def error_response(
    status_code: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(envelope(status_code, code, message), status_code, headers=headers)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        location = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        message = str(err.get("msg", "invalid value"))
        if err.get("type") == "json_invalid":
            return "Request body is not valid JSON"
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "Invalid request"


def _method_table(app: Any) -> tuple[dict[str, set[str]], list[tuple[re.Pattern[str], set[str]]]]:
    """The methods of every path: concrete paths, and templated ones as patterns. From the
    OpenAPI document plus the undocumented routes (the dashboard's); built once."""
    table = getattr(app.state, "method_table", None)
    if table is None:
        concrete: dict[str, set[str]] = {}
        templated: list[tuple[re.Pattern[str], set[str]]] = []
        paths = {p: {m.upper() for m in ops} for p, ops in app.openapi().get("paths", {}).items()}
        for route in app.router.routes:
            path, methods = getattr(route, "path", None), getattr(route, "methods", None)
            if path and methods:
                paths.setdefault(path, set()).update(methods)
        for path, methods in paths.items():
            if "{" in path:
                templated.append((compile_path(path)[0], methods))
            else:
                concrete[path] = methods
        table = app.state.method_table = (concrete, templated)
    return table


def _allowed_methods(app: Any, path: str) -> list[str]:
    """The methods served at this path. As in OpenAPI, a concrete path wins over templates
    (/api/keys/validate is not a /api/keys/{key_id}). Starlette's own 405 names only the
    first matching route's methods, and FastAPI makes a route per method."""
    concrete, templated = _method_table(app)
    if path in concrete:
        return sorted(concrete[path])
    allowed: set[str] = set()
    for pattern, methods in templated:
        if pattern.match(path):
            allowed |= methods
    return sorted(allowed)


def _method_not_allowed(method: str, path: str, allowed: list[str]) -> JSONResponse:
    return error_response(
        405,
        "METHOD_NOT_ALLOWED",
        f"Method {method} is not allowed on {path}",
        headers={"Allow": ", ".join(allowed)},
    )


class ConcretePathMethods:
    """A request to a concrete path with a method it does not serve is a 405, even when a
    templated route would take it (PUT /api/keys/validate is not PUT /api/keys/{key_id}):
    the API behaves as its OpenAPI document reads."""

    def __init__(self, app: ASGIApp, *, api: Any, prefix: str = "/api") -> None:
        self.app = app
        self.api = api
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            concrete, _ = _method_table(self.api)
            methods = concrete.get(scope["path"])
            if methods is not None and scope["method"] not in methods:
                response = _method_not_allowed(scope["method"], scope["path"], sorted(methods))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VeriscanError)
    async def _veriscan_error(_: Request, exc: VeriscanError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "VALIDATION_ERROR", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES_BY_STATUS.get(exc.status_code, "HTTP_ERROR")
        if exc.status_code == 405:
            path = request.url.path
            return _method_not_allowed(request.method, path, _allowed_methods(request.app, path))
        if exc.status_code == 404:
            message = f"No route for {request.method} {request.url.path}"
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("request.failed method=%s path=%s", request.method, request.url.path)
        return error_response(500, "INTERNAL_ERROR", "Internal server error")
