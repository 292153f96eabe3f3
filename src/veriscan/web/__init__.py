"""The dashboard: static pages shipped in the package, served beside the API.

The browser code talks only to the public API and socket.io, like any other client, so
this module only hands out files: the assets under /static and index.html for every
client-side route (the page's own router picks the view).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"

# The routes the page's own router knows; anything else keeps its normal 404/405 so that
# unknown /api paths still answer in the error envelope.
CLIENT_ROUTES = (
    "/",
    "/signin",
    "/register",
    "/profile",
    "/upload",
    "/history",
    "/keys",
    "/notifications",
    "/admin/stats",
    "/admin/users",
    "/admin/audit",
    "/cases",
    "/cases/{rest:path}",
    "/scans/{rest:path}",
    "/files",
    "/files/{rest:path}",
)

# A Host header is echoed into connect-src only when it looks like one (no quotes,
# spaces or semicolons that could add directives).
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def security_headers(host: str | None) -> dict[str, str]:
    """Headers for every dashboard response: nothing from elsewhere, no framing, no referrer."""
    connect = "'self'"
    if host and _HOST.match(host):
        # Older browsers do not count ws:// to the same host as 'self'.
        connect += f" ws://{host} wss://{host}"
    policy = "; ".join(
        (
            "default-src 'self'",
            f"connect-src {connect}",
            # Evidence pictures, and the analysed file itself, are fetched with the token
            # and shown as blob: URLs.
            "img-src 'self' blob: data:",
            "media-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


class _DashboardFiles(StaticFiles):
    """StaticFiles that adds the dashboard's security headers to every asset."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        host = Request(scope).headers.get("host")
        response.headers.update(security_headers(host))
        # Assets change with the package version, not by the minute: revalidate each time.
        response.headers["Cache-Control"] = "no-cache"
        return response


def _index(request: Request) -> FileResponse:
    headers = security_headers(request.headers.get("host"))
    headers["Cache-Control"] = "no-cache"
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=headers)


SWAGGER_UI = "/static/vendor/swagger-ui"


def _docs(request: Request) -> Response:
    """Swagger UI for the API, its assets served from the package (vendored from npm's
    swagger-ui-dist with its licence): it works on a network with no way out."""
    response = get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API",
        swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


# Paths that are never dashboard pages: their 404s stay in the API's error envelope.
NOT_PAGES = ("/api", "/static", "/health", "/socket.io", "/openapi.json", "/docs")


def _wants_a_page(request: Request) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and not request.url.path.startswith(NOT_PAGES)
        and "text/html" in request.headers.get("accept", "")
    )


def mount(app: FastAPI) -> None:
    """Serve the dashboard: assets under /static, index.html for the client-side routes,
    and the API's documentation at /docs. A browser asking for a page that does not exist
    gets the dashboard (with a 404), whose router shows its own "not found" page; any
    other client still gets the error envelope."""
    app.mount("/static", _DashboardFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/docs", _docs, methods=["GET"], include_in_schema=False)
    envelope = app.exception_handlers[StarletteHTTPException]

    async def not_found(request: Request, exc: Exception) -> Response:
        if (
            isinstance(exc, StarletteHTTPException)
            and exc.status_code == 404
            and _wants_a_page(request)
        ):
            headers = security_headers(request.headers.get("host"))
            headers["Cache-Control"] = "no-cache"
            return FileResponse(
                STATIC_DIR / "index.html", status_code=404, media_type="text/html", headers=headers
            )
        answer = envelope(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(StarletteHTTPException, not_found)
    for route in CLIENT_ROUTES:
        app.add_api_route(route, _index, methods=["GET"], include_in_schema=False)
