"""A VirusTotal scan of one file: look the hash up, upload only when unknown, follow the
analysis, and turn VirusTotal's per-engine results into verdicts.

Every request first takes a slot from the key's quota (QuotaGate). Errors are told apart
by VirusTotal's error code: a refused key is fatal, an exhausted quota waits, server
errors and network failures are retried with back-off until the scan's deadline.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from veriscan.engines.base import Category, EngineVerdict, Sample, clean_result
from veriscan.engines.virustotal.client import (
    DIRECT_UPLOAD_LIMIT,
    VirusTotalClient,
    VirusTotalError,
    VirusTotalSession,
    VirusTotalUnreachable,
)
from veriscan.engines.virustotal.quota import Allowance, QuotaGate

logger = logging.getLogger("veriscan.virustotal")

ENGINE = "virustotal"
# The cache key's engine version: VirusTotal's own engines change daily, so the cache's
# age setting, not this, bounds how old reused VirusTotal verdicts can be.
ENGINE_VERSION = "v3"
KEY_REFUSED_CODES = frozenset(
    {"WrongCredentialsError", "AuthenticationRequiredError", "ForbiddenError", "UserNotActiveError"}
)
QUOTA_CODES = frozenset({"QuotaExceededError", "TooManyRequestsError"})

T = TypeVar("T")
Progress = Callable[[str, int], Awaitable[None]]


class KeyRefused(Exception):
    """VirusTotal refused the key: the scan fails and the key is marked invalid."""


class VirusTotalFailed(Exception):
    """VirusTotal cannot scan this file (an error that retrying will not fix)."""


@dataclass(frozen=True)
class Timing:
    poll_seconds: float
    poll_max_seconds: float
    retry_seconds: float
    retry_max_seconds: float


class VirusTotalEngine:
    def __init__(
        self, client: VirusTotalClient, gate: QuotaGate, timing: Timing, default: Allowance
    ):
        self.client = client
        self.gate = gate
        self.timing = timing
        self.default = default
        self.allowances: dict[str, tuple[Allowance, float]] = {}

    async def scan(
        self,
        sample: Sample,
        api_key: str,
        *,
        rescan: bool,
        deadline: float,
        progress: Progress,
        resume_analysis: str | None = None,
        on_analysis: Callable[[str], Awaitable[None]] | None = None,
    ) -> list[EngineVerdict]:
        """Verdicts of VirusTotal's engines.

        Raises KeyRefused, VirusTotalFailed, or TimeoutError at the deadline.
        """
        async with self.client.session(api_key) as session:
            call = _Caller(self, session, api_key, deadline)
            await call.learn_allowance()
            analysis_id = resume_analysis
            if analysis_id is None and not rescan:
                await progress("virustotal:lookup", 45)
                known = await call(lambda: session.get_file(sample.sha256))
                if known and (known.get("attributes") or {}).get("last_analysis_results"):
                    logger.info("virustotal.known sha256=%s", sample.sha256)
                    return verdicts_from(known["attributes"]["last_analysis_results"])
            if analysis_id is None and rescan:
                await progress("virustotal:reanalyse", 50)
                try:
                    analysis_id = await call(lambda: session.reanalyse(sample.sha256))
                except VirusTotalFailed as exc:
                    if "NotFoundError" not in str(exc):
                        raise
            if analysis_id is None:
                await progress("virustotal:upload", 55)
                analysis_id = await self._upload(call, session, sample)
            if on_analysis is not None:
                await on_analysis(analysis_id)
            return await self._follow(call, session, analysis_id, deadline, progress)

    async def _upload(self, call: _Caller, session: VirusTotalSession, sample: Sample) -> str:
        if sample.size <= DIRECT_UPLOAD_LIMIT:
            return await call(lambda: session.upload(sample.path, sample.filename))
        url = await call(session.upload_url)
        return await call(lambda: session.upload(sample.path, sample.filename, url=url))

    async def _follow(
        self,
        call: _Caller,
        session: VirusTotalSession,
        analysis_id: str,
        deadline: float,
        progress: Progress,
    ) -> list[EngineVerdict]:
        delay = self.timing.poll_seconds
        polls = 0
        while True:
            if time.monotonic() + delay > deadline:
                raise TimeoutError(
                    "VirusTotal's analysis did not complete before the scan's deadline"
                )
            await asyncio.sleep(delay)
            analysis = await call(lambda: session.get_analysis(analysis_id))
            attributes = (analysis.get("data") or {}).get("attributes") or {}
            polls += 1
            if attributes.get("status") == "completed":
                return verdicts_from(attributes.get("results") or {})
            await progress("virustotal:analysis", min(90, 60 + 5 * polls))
            delay = min(delay * 2, self.timing.poll_max_seconds)


class _Caller:
    """One request at a time under the key's quota, retried as VirusTotal's answer says."""

    def __init__(
        self, engine: VirusTotalEngine, session: VirusTotalSession, api_key: str, deadline: float
    ):
        self.engine = engine
        self.session = session
        self.api_key = api_key
        self.deadline = deadline
        self.allowance = engine.default

    async def learn_allowance(self) -> None:
        """Read the key's quotas from VirusTotal (once an hour per key and process).

        VirusTotal does not document whether this request counts against the quota, so
        it takes a slot like any other. When VirusTotal does not say, a free key's
        allowance applies.
        """
        key_id = self.engine.gate.key_id(self.api_key)
        known = self.engine.allowances.get(key_id)
        if known is not None and known[1] > time.monotonic():
            self.allowance = known[0]
            return
        await self.engine.gate.take(self.api_key, self.allowance, deadline=self.deadline)
        try:
            user = await self.session.get_user(self.api_key)
        except VirusTotalError as exc:
            if exc.code in KEY_REFUSED_CODES:
                raise KeyRefused(f"VirusTotal refused the API key ({exc.code})") from None
            return
        except VirusTotalUnreachable:
            return
        self.allowance = allowance_from(user, self.engine.default)
        self.engine.allowances[key_id] = (self.allowance, time.monotonic() + 3600)

    async def __call__(self, request: Callable[[], Awaitable[T]]) -> T:
        backoff = self.engine.timing.retry_seconds
        while True:
            await self.engine.gate.take(self.api_key, self.allowance, deadline=self.deadline)
            try:
                return await request()
            except VirusTotalError as exc:
                if exc.code in KEY_REFUSED_CODES:
                    raise KeyRefused(f"VirusTotal refused the API key ({exc.code})") from None
                if exc.code in QUOTA_CODES or exc.status_code == 429:
                    # Someone else uses this key too: the minute is spent, wait for the next.
                    logger.warning(
                        "virustotal.quota_exceeded key=%s", self.engine.gate.key_id(self.api_key)
                    )
                    await asyncio.to_thread(self.engine.gate.penalise, self.api_key, self.allowance)
                    continue
                if exc.status_code < 500 and exc.code not in (
                    "TransientError",
                    "DeadlineExceededError",
                ):
                    raise VirusTotalFailed(f"VirusTotal: {exc.code}: {exc.message}") from None
                reason = exc.code
            except VirusTotalUnreachable as exc:
                reason = str(exc)
            wait = min(backoff, self.engine.timing.retry_max_seconds) * random.uniform(0.8, 1.2)  # noqa: S311
            if time.monotonic() + wait > self.deadline:
                raise TimeoutError(f"VirusTotal kept failing ({reason}) until the scan's deadline")
            logger.info("virustotal.retry reason=%s wait=%.1f", reason, wait)
            await asyncio.sleep(wait)
            backoff *= 2


def allowance_from(user: dict[str, Any], default: Allowance) -> Allowance:
    quotas = (user.get("attributes") or {}).get("quotas") or {}

    def allowed(name: str) -> int | None:
        value = (quotas.get(name) or {}).get("allowed")
        return int(value) if isinstance(value, int) and value > 0 else None

    return Allowance(
        per_minute=default.per_minute,
        per_hour=allowed("api_requests_hourly"),
        per_day=allowed("api_requests_daily") or default.per_day,
    )


def _update_date(value: object) -> datetime | None:
    if isinstance(value, str) and len(value) == 8 and value.isdigit():
        return datetime(int(value[:4]), int(value[4:6]), int(value[6:]), tzinfo=UTC)
    if isinstance(value, int):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def verdicts_from(results: dict[str, Any]) -> list[EngineVerdict]:
    verdicts = []
    for key, entry in sorted(results.items()):
        if not isinstance(entry, dict):
            continue
        try:
            category = Category(str(entry.get("category")))
        except ValueError:
            category = Category.FAILURE
        detection = entry.get("result")
        verdicts.append(
            EngineVerdict(
                engine_name=str(entry.get("engine_name") or key)[:100],
                engine_version=str(entry.get("engine_version") or "")[:200],
                category=category,
                result=clean_result(category, str(detection) if detection else None),
                update_date=_update_date(entry.get("engine_update")),
            )
        )
    return verdicts
