"""Composition root: settings in, one ASGI application out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect

from veriscan import __version__, web
from veriscan.accounts import service as accounts
from veriscan.admin.endpoints import health_router
from veriscan.admin.endpoints import router as admin_router
from veriscan.audit.endpoints import router as audit_router
from veriscan.auth.endpoints import router as auth_router
from veriscan.auth.endpoints import users_router
from veriscan.batches.endpoints import router as batches_router
from veriscan.cases.endpoints import router as cases_router
from veriscan.comments.endpoints import router as comments_router
from veriscan.context import AppContext
from veriscan.core import migrate
from veriscan.core.config import Settings
from veriscan.core.errors import (
    ConcretePathMethods,
    VeriscanError,
    error_response,
    install_error_handlers,
)
from veriscan.core.guard import RequestGuardMiddleware
from veriscan.core.ratelimit import LimiterStore, RateLimitMiddleware
from veriscan.files.endpoints import router as files_router
from veriscan.jobs import register_all, sweep_all
from veriscan.keys.endpoints import router as keys_router
from veriscan.malware.endpoints import router as malware_router
from veriscan.malware.endpoints import upload_router
from veriscan.media.endpoints import router as media_router
from veriscan.notifications.endpoints import router as notifications_router
from veriscan.queue import (
    SHUTDOWN_WAIT_SECONDS,
    EmbeddedConsumer,
    Sweeper,
    consumer_options,
    join_workers,
)
from veriscan.realtime import Identity
from veriscan.reports.endpoints import malware_router as malware_export_router
from veriscan.reports.endpoints import router as reports_router
from veriscan.sharing.endpoints import router as sharing_router

logger = logging.getLogger("veriscan.app")

# Routes that stream their body to disk under the upload limit rather than the JSON one.
STREAMED_UPLOADS = (
    "/api/files/upload",
    "/api/scans/upload",
    "/api/files/batch",
    "/api/scans/batch",
)

DESCRIPTION = """
Veriscan answers two questions about any file a team receives: **is it malicious?**
(VirusTotal with the users' own keys, plus local engines) and **is it authentic?**
(media analysis and provenance).

Errors always come in one envelope:
`{"success": false, "error": {"message", "code", "statusCode", "timestamp"}}`.
"""


def _authenticator(context: AppContext) -> Callable[[str], Identity | None]:
    def authenticate(token: str) -> Identity | None:
        try:
            user = accounts.authenticate(context, token).user
        except VeriscanError:
            return None
        return Identity(str(user.id), user.role)

    return authenticate


def _token_user(context: AppContext) -> Callable[[str], str | None]:
    """The user id of a valid access token (signature and expiry only: no database)."""

    def identify(token: str) -> str | None:
        claims = context.tokens.decode(token, "access")
        return str(claims.user_id) if claims is not None else None

    return identify


def create_app(
    settings: Settings | None = None,
    *,
    migrate_on_start: bool = True,
    on_started: Callable[[], None] | None = None,
) -> Any:
    """The FastAPI application wrapped in the socket.io server (one ASGI app, one port).
    `on_started` is called once in the lifespan's start-up, after the migrations and
    before the workers and the sweeper start (and before the first request is served)."""
    settings = settings or Settings()
    context = AppContext.from_settings(settings)
    context.realtime.set_authenticator(_authenticator(context))
    register_all(context)
    limiter = (
        LimiterStore(settings.redis_url, settings.queue_name)
        if settings.rate_limit_enabled
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate_on_start:
            await run_in_threadpool(migrate.upgrade, context.db.engine)
        removed = await run_in_threadpool(context.blobs.sweep_temporary)
        if removed:
            logger.info("storage.swept_temporary count=%d", removed)
        context.realtime.bind_loop(asyncio.get_running_loop())
        if on_started is not None:  # before any thread of ours has work in hand
            on_started()
        consumer = None
        if settings.worker_threads > 0:
            consumer = EmbeddedConsumer(
                context.huey, **consumer_options(settings, settings.worker_threads)
            )
            consumer.start()
        sweeper = Sweeper(lambda: sweep_all(context), settings.sweep_interval_seconds)
        sweeper.start()
        logger.info("app.started version=%s workers=%d", __version__, settings.worker_threads)
        yield
        context.stopping.set()
        sweeper.stop()
        if consumer is not None:
            # Running scans are left to their leases: the next start takes them over.
            consumer.stop(graceful=False)
            # But a worker thread still inside a scan must be done with the database before
            # the engine is disposed: a connection it took after that would belong to no
            # pool and be closed by the garbage collector, not by us.
            await run_in_threadpool(join_workers, consumer, SHUTDOWN_WAIT_SECONDS)
        if limiter is not None:
            await limiter.close()
        await context.realtime.aclose()
        context.close()

    app = FastAPI(
        title="Veriscan",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # web.mount serves /docs with Swagger UI's assets from the package
        redoc_url=None,
    )
    app.state.context = context
    install_error_handlers(app)

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, _: ClientDisconnect) -> JSONResponse:
        logger.info("request.client_disconnected path=%s", request.url.path)
        return error_response(400, "CLIENT_DISCONNECTED", "The client went away mid-request")

    for router in (
        auth_router,
        users_router,
        keys_router,
        batches_router,  # before files and media: /api/files/batch, /api/scans/batch
        upload_router,  # POST /api/files/upload: stores a file and starts its malware scan
        files_router,
        reports_router,  # before media and malware: /api/scans/export
        malware_router,
        malware_export_router,  # GET /api/scan/{scan_id}/export
        media_router,
        comments_router,  # after media's and malware's concrete /api/scans, /api/scan paths
        cases_router,
        sharing_router,
        notifications_router,
        admin_router,
        audit_router,
    ):
        app.include_router(router)
    web.mount(app)

    # GET /health and GET /api/health (admin/health.py says what each check means).
    app.include_router(health_router)

    if limiter is not None:
        app.add_middleware(
            RateLimitMiddleware,
            limit=settings.rate_limit,
            storage=limiter.storage,
            user_limit=settings.user_rate_limit,
            identify=_token_user(context),
        )
    app.add_middleware(ConcretePathMethods, api=app)
    # Added last, so it wraps the rate limiter: a 429 carries the headers too.
    app.add_middleware(
        RequestGuardMiddleware,
        max_body_bytes=settings.max_body_kb * 1024,
        streamed_paths=STREAMED_UPLOADS,
        # /static answers its own 404s in the envelope: those get the API's headers (the
        # assets keep the dashboard's own, which are already there).
        prefixes=("/api", "/health", "/static"),
    )
    if settings.cors_origins:
        # Outermost: preflights are answered here, and every answer (a 429 or an error
        # envelope included) carries the headers a browser on that origin needs.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[origin.rstrip("/") for origin in settings.cors_origins],
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=[
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "Retry-After",
                "Content-Disposition",
                "X-Total-Count",  # GET /api/files/ with page and per_page
            ],
            max_age=600,
        )
    asgi = context.realtime.asgi(app)
    asgi.state = app.state  # tests and tools reach the context through the ASGI app
    return asgi
