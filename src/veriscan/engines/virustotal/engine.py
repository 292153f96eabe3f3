"""A VirusTotal scan of one file, one request at a time: look the hash up, upload only
when unknown, poll the analysis, and turn VirusTotal's per-engine results into verdicts.

Errors are told apart by VirusTotal's error code: a refused key is fatal, a 429 means the
quota was spent elsewhere, server errors and network failures are "unreachable" (the
caller retries later), anything else means VirusTotal cannot scan this file.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable
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
from veriscan.engines.virustotal.quota import Allowance

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


class KeyRefused(Exception):
    """VirusTotal refused the key: the scan fails and the key is marked invalid."""


class VirusTotalFailed(Exception):
    """VirusTotal cannot scan this file (an error that retrying will not fix)."""


class QuotaSpent(Exception):
    """VirusTotal answered 429: someone else spends this key's quota too."""


class Unreachable(Exception):
    """No answer worth keeping: a network failure, a timeout or a server error (retry)."""


class Step(enum.StrEnum):
    """The one request a scan's VirusTotal part waits to make."""

    LOOKUP = "lookup"  # GET /files/{sha256}
    REANALYSE = "reanalyse"  # POST /files/{sha256}/analyse (a rescan)
    UPLOAD = "upload"  # POST /files, or GET /files/upload_url and the upload
    POLL = "poll"  # GET /analyses/{id}
    CACHED = "cached"  # none: the results cache holds VirusTotal's verdicts


@dataclass(frozen=True)
class StepResult:
    """What one request taught: VirusTotal's verdicts, or the next step."""

    verdicts: list[EngineVerdict] | None = None
    next_step: Step | None = None
    analysis_id: str | None = None
    analysis_status: str | None = None  # queued, in-progress (a poll that was not done)


class VirusTotalEngine:
    """VirusTotal's part of a scan, one request at a time.

    The caller takes a slot of the key's quota before each call (malware/dispatch.py) and
    decides when the next one may go: nothing here waits, so no worker is held while a
    scan waits for its quota, its analysis or a retry.
    """

    def __init__(self, client: VirusTotalClient, default: Allowance):
        self.client = client
        self.default = default

    async def step(
        self, step: Step, sample: Sample, api_key: str, analysis_id: str | None
    ) -> StepResult:
        """Send the request of `step`. Raises KeyRefused, QuotaSpent, Unreachable or
        VirusTotalFailed."""
        async with self.client.session(api_key) as session:
            return await _classified(self._step(session, step, sample, analysis_id))

    async def _step(
        self, session: VirusTotalSession, step: Step, sample: Sample, analysis_id: str | None
    ) -> StepResult:
        if step is Step.LOOKUP:
            known = await session.get_file(sample.sha256)
            results = ((known or {}).get("attributes") or {}).get("last_analysis_results")
            if results:
                logger.info("virustotal.known sha256=%s", sample.sha256)
                return StepResult(verdicts=verdicts_from(results))
            return StepResult(next_step=Step.UPLOAD)
        if step is Step.REANALYSE:
            try:
                return StepResult(
                    next_step=Step.POLL, analysis_id=await session.reanalyse(sample.sha256)
                )
            except VirusTotalError as exc:
                if exc.code != "NotFoundError":
                    raise
                return StepResult(next_step=Step.UPLOAD)  # VirusTotal never saw it
        if step is Step.UPLOAD:
            if sample.size <= DIRECT_UPLOAD_LIMIT:
                new_id = await session.upload(sample.path, sample.filename)
            else:
                # The upload URL's request is the one VirusTotal counts; the upload to it
                # needs no key.
                url = await session.upload_url()
                new_id = await session.upload(sample.path, sample.filename, url=url)
            return StepResult(next_step=Step.POLL, analysis_id=new_id)
        if step is Step.POLL:
            if analysis_id is None:
                return StepResult(next_step=Step.LOOKUP)
            analysis = await session.get_analysis(analysis_id)
            attributes = (analysis.get("data") or {}).get("attributes") or {}
            status = str(attributes.get("status") or "queued")
            if status == "completed":
                return StepResult(verdicts=verdicts_from(attributes.get("results") or {}))
            return StepResult(next_step=Step.POLL, analysis_id=analysis_id, analysis_status=status)
        raise ValueError(f"not a request: {step}")

    async def read_allowance(self, api_key: str) -> Allowance:
        """GET /users/{key}: what VirusTotal says the key may send (the caller has taken
        its slot). Raises like `step`."""
        async with self.client.session(api_key) as session:
            user = await _classified(session.get_user(api_key))
        return allowance_from(user, self.default)


async def _classified(request: Awaitable[T]) -> T:
    """VirusTotal's answer, its errors told apart by their code."""
    try:
        return await request
    except VirusTotalError as exc:
        if exc.code in KEY_REFUSED_CODES:
            raise KeyRefused(f"VirusTotal refused the API key ({exc.code})") from None
        if exc.code in QUOTA_CODES or exc.status_code == 429:
            raise QuotaSpent(exc.code) from None
        if exc.status_code >= 500 or exc.code in ("TransientError", "DeadlineExceededError"):
            raise Unreachable(f"{exc.code} ({exc.status_code})") from None
        raise VirusTotalFailed(f"VirusTotal: {exc.code}: {exc.message}") from None
    except VirusTotalUnreachable as exc:
        raise Unreachable(str(exc)) from None


def allowance_from(user: dict[str, Any], default: Allowance) -> Allowance:
    """A key's allowance from its user object's `quotas`.

    VirusTotal reports hourly, daily and monthly allowances, no per-minute one: the minute
    gets a sixtieth of the hour (a free key: 240 an hour, so 4 a minute; a premium key
    is not held to a free key's 4). With no hourly figure, a day's 1440th if that is
    more than the default; with neither, the default (a free key's).
    """
    quotas = (user.get("attributes") or {}).get("quotas") or {}

    def allowed(name: str) -> int | None:
        value = (quotas.get(name) or {}).get("allowed")
        return int(value) if isinstance(value, int) and value > 0 else None

    hourly, daily = allowed("api_requests_hourly"), allowed("api_requests_daily")
    if hourly is not None:
        per_minute = max(1, hourly // 60)
    elif daily is not None:
        per_minute = max(default.per_minute, daily // 1440)
    else:
        per_minute = default.per_minute
    return Allowance(per_minute=per_minute, per_hour=hourly, per_day=daily or default.per_day)


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
