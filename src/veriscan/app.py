"""Composition root: settings in, one ASGI application out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from veriscan import __version__
from veriscan.auth.endpoints import router as auth_router
from veriscan.context import AppContext
from veriscan.core import migrate
from veriscan.core.config import Settings
from veriscan.core.errors import error_response, install_error_handlers
from veriscan.core.ratelimit import LimiterStore, RateLimitMiddleware
from veriscan.files.endpoints import router as files_router
from veriscan.keys.endpoints import router as keys_router

logger = logging.getLogger("veriscan.app")

DESCRIPTION = """
Veriscan answers two questions about any file a team receives: **is it malicious?**
(VirusTotal with the users' own keys, plus local engines) and **is it authentic?**
(media analysis and provenance).

Errors always come in one envelope:
`{"success": false, "error": {"message", "code", "statusCode", "timestamp"}}`.
"""


def create_app(settings: Settings | None = None, *, migrate_on_start: bool = True) -> FastAPI:
    settings = settings or Settings()
    context = AppContext.from_settings(settings)
    limiter = LimiterStore(settings.redis_url) if settings.rate_limit_enabled else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate_on_start:
            await run_in_threadpool(migrate.upgrade, context.db.engine)
        removed = await run_in_threadpool(context.blobs.sweep_temporary)
        if removed:
            logger.info("storage.swept_temporary count=%d", removed)
        logger.info("app.started version=%s", __version__)
        yield
        if limiter is not None:
            await limiter.close()
        context.close()

    app = FastAPI(
        title="Veriscan",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.context = context
    install_error_handlers(app)

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, _: ClientDisconnect) -> JSONResponse:
        logger.info("request.client_disconnected path=%s", request.url.path)
        return error_response(400, "CLIENT_DISCONNECTED", "The client went away mid-request")

    for router in (auth_router, keys_router, files_router):
        app.include_router(router)

    @app.get("/health", tags=["health"], include_in_schema=True)
    def health() -> dict[str, str]:
        with context.db.session(writes=False) as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    if limiter is not None:
        app.add_middleware(
            RateLimitMiddleware,
            limit=settings.rate_limit,
            storage=limiter.storage,
        )
    return app
