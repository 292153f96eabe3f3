"""Whether this server can do its work: the database, the queue, the engines, socket.io.

Public (load balancers and orchestrators ask it without a token), so it says nothing
secret: backends by kind, engine versions, counts, and URLs with any password masked;
never a host name, path or error text that a driver might fill with them (those go to
the log).

Every probe runs on a thread of its own, all at once, and each has `CHECK_TIMEOUT`
seconds: a probe still running by then counts as down (the thread is left to finish).
The database and the queue are vital (without them no request or scan can be served:
"down", HTTP 503); an engine or socket.io that is down only makes the server "degraded"
(HTTP 200: scans still run, with fewer engines or without live updates). VirusTotal is
never called here (every call spends a user's quota): it is reported as configured, and
"degraded" while its last failure (seen by any scan or key check of this deployment) is
recent and no request has succeeded since.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from veriscan import __version__
from veriscan.context import AppContext
from veriscan.engines.base import LocalEngine
from veriscan.engines.clamav import ClamAVEngine
from veriscan.keys.models import ApiKey

logger = logging.getLogger("veriscan.health")

# Seconds each probe may take.
CHECK_TIMEOUT = 2.0


class Status(enum.StrEnum):
    OK = "ok"
    DOWN = "down"
    DISABLED = "disabled"
    DEGRADED = "degraded"  # VirusTotal has failed recently and not answered since


class Overall(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # an optional part (engine, socket.io) is down: HTTP 200
    DOWN = "down"  # the database or the queue is down: HTTP 503


@dataclass(frozen=True)
class Check:
    status: Status
    latency_ms: float
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "latencyMs": self.latency_ms, "detail": self.detail}


@dataclass(frozen=True)
class Report:
    status: Overall
    body: dict[str, Any]

    @property
    def http_status(self) -> int:
        return 503 if self.status is Overall.DOWN else 200


class ProbeFailed(Exception):
    """A probe's own words for what is wrong: safe to show (no host, path or secret)."""


# A probe answers (status, detail), or raises: ProbeFailed with a safe message, anything
# else with its type only.
Probe = Callable[[], tuple[Status, str]]


async def check(context: AppContext) -> Report:
    """Ask every part at once; the body of GET /health and GET /api/health."""
    probes: dict[str, Probe] = {
        "database": lambda: _database(context),
        "queue": lambda: _queue(context),
        "yara": lambda: _yara(context),
        "clamav": lambda: _clamav(context),
        "virustotal": lambda: _virustotal(context),
        "socketio": lambda: _socketio(context),
    }
    results = await asyncio.gather(*(_timed(name, probe) for name, probe in probes.items()))
    checks = dict(zip(probes, results, strict=True))
    if Status.DOWN in (checks["database"].status, checks["queue"].status):
        overall = Overall.DOWN
    elif any(c.status in (Status.DOWN, Status.DEGRADED) for c in results):
        overall = Overall.DEGRADED
    else:
        overall = Overall.OK
    if overall is not Overall.OK:
        down = ",".join(
            name for name, c in checks.items() if c.status in (Status.DOWN, Status.DEGRADED)
        )
        logger.warning("health.%s down=%s", overall.value, down)
    body = {
        "status": overall.value,
        "version": __version__,
        "uptimeSeconds": int(time.monotonic() - context.started_at),
        "checks": {
            "database": checks["database"].as_dict(),
            "queue": checks["queue"].as_dict(),
            "engines": {
                "yara": checks["yara"].as_dict(),
                "clamav": checks["clamav"].as_dict(),
                "virustotal": checks["virustotal"].as_dict(),
            },
            "socketio": checks["socketio"].as_dict(),
        },
    }
    return Report(overall, body)


async def _timed(name: str, probe: Probe) -> Check:
    started = time.monotonic()
    try:
        status, detail = await asyncio.wait_for(asyncio.to_thread(probe), CHECK_TIMEOUT)
    except TimeoutError:
        status, detail = Status.DOWN, f"no answer within {CHECK_TIMEOUT:g} s"
    except ProbeFailed as exc:
        status, detail = Status.DOWN, str(exc)
    except Exception as exc:
        logger.warning("health.check_failed check=%s", name, exc_info=True)
        status, detail = Status.DOWN, f"not answering ({type(exc).__name__})"
    return Check(status, round((time.monotonic() - started) * 1000, 1), detail)


def _database(context: AppContext) -> tuple[Status, str]:
    with context.db.session(writes=False) as session:
        session.execute(text("SELECT 1"))
    return Status.OK, context.db.engine.dialect.name


def _queue(context: AppContext) -> tuple[Status, str]:
    pending = context.huey.pending_count()
    backend = "redis" if context.settings.redis_url else "sqlite"
    return Status.OK, f"{backend}, {pending} pending"


def _engine(context: AppContext, name: str) -> LocalEngine | None:
    return next((e for e in context.local_engines if e.name == name), None)


def _yara(context: AppContext) -> tuple[Status, str]:
    engine = _engine(context, "YARA-X")
    if engine is None:
        return Status.DISABLED, "turned off (VERISCAN_YARA_ENABLED)"
    if not engine.available():  # compiles the rules on first use; logs why it cannot
        raise ProbeFailed("the rules did not compile (see the server log)")
    return Status.OK, engine.version()


def _clamav(context: AppContext) -> tuple[Status, str]:
    engine = _engine(context, "ClamAV")
    if not isinstance(engine, ClamAVEngine):
        return Status.DISABLED, "no clamd socket configured (VERISCAN_CLAMD_SOCKET)"
    # A probe of its own: the engine's timeouts are made for scans, not for a check.
    probe = ClamAVEngine(engine.socket_spec, timeout=CHECK_TIMEOUT, connect_timeout=CHECK_TIMEOUT)
    if not probe.available():
        raise ProbeFailed("clamd is not answering")
    return Status.OK, probe.version()


def _virustotal(context: AppContext) -> tuple[Status, str]:
    url = context.settings.virustotal_url.strip()
    if not url:
        return Status.DISABLED, "no VirusTotal URL configured"
    try:
        with context.db.session(writes=False) as session:
            keys = str(session.scalar(select(func.count()).where(ApiKey.is_active.is_(True))) or 0)
    except Exception:  # the database check reports it
        keys = "unknown"
    configured = f"configured ({safe_url(url)}), {keys} active keys"
    failing = context.reach.failing(context.settings.virustotal_degraded_seconds)
    if failing is not None:
        since = datetime.fromtimestamp(failing.since, UTC).isoformat(timespec="seconds")
        # The reason is the client's own words (an exception's type, VirusTotal's code),
        # never a host or a key.
        return Status.DEGRADED, f"{configured}; unreachable since {since} ({failing.reason})"
    return Status.OK, configured


def _socketio(context: AppContext) -> tuple[Status, str]:
    detail = "mounted at /socket.io"
    redis_url = context.settings.redis_url
    if not redis_url:
        return Status.OK, detail + ", single server"
    client = redis.Redis.from_url(
        redis_url, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ProbeFailed("its Redis manager is not reachable") from exc
    finally:
        client.close()
    return Status.OK, detail + ", Redis manager reachable"


def safe_url(url: str) -> str:
    """A URL fit to show: the password masked, no query string."""
    try:
        return make_url(url).set(query={}).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "a URL that cannot be shown"
