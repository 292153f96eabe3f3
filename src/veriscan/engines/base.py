"""The one interface every malware engine implements, and what it reports.

Engines know nothing of HTTP or the database: a sample (a path and its hashes) in,
verdicts out. The base class owns the timeout (asyncio, not signals), the timing and the
error capture, so a plug-in only implements `scan_file` (local engines, run on a thread)
or `scan` (network engines, async).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from veriscan.core.pools import refused_by_a_stopping_pool

logger = logging.getLogger("veriscan.engines")


class Category(enum.StrEnum):
    """VirusTotal's per-engine categories; local engines use the same words."""

    MALICIOUS = "malicious"
    SUSPICIOUS = "suspicious"
    UNDETECTED = "undetected"
    HARMLESS = "harmless"
    TIMEOUT = "timeout"
    CONFIRMED_TIMEOUT = "confirmed-timeout"
    TYPE_UNSUPPORTED = "type-unsupported"
    FAILURE = "failure"

    @property
    def is_verdict(self) -> bool:
        """Whether the engine gave an opinion (counted in the detection ratio)."""
        return self in (
            Category.MALICIOUS,
            Category.SUSPICIOUS,
            Category.UNDETECTED,
            Category.HARMLESS,
        )


@dataclass(frozen=True)
class Sample:
    """A stored file to scan. `path` is read-only to engines."""

    path: Path
    sha256: str
    sha1: str
    md5: str
    size: int
    filename: str = ""


@dataclass(frozen=True)
class EngineVerdict:
    """One row of a scan's results, as the VirusTotal document shows them."""

    engine_name: str
    engine_version: str
    category: Category
    # The detection name when something was found ("Eicar-Signature"), else "clean" for
    # undetected/harmless, else the category itself.
    result: str
    update_date: datetime | None = None


@dataclass(frozen=True)
class EngineReport:
    """What one engine run produced: verdicts, or an error that says why there are none."""

    engine: str
    version: str
    verdicts: list[EngineVerdict] = field(default_factory=list)
    error: str | None = None
    # A recoverable error (engine busy, network blip) may be retried; a fatal one may not.
    retryable: bool = False
    seconds: float = 0.0


class EngineFailed(Exception):
    """A plug-in cannot scan this sample; `retryable` says whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def clean_result(category: Category, detection: str | None) -> str:
    if detection:
        return detection
    if category in (Category.UNDETECTED, Category.HARMLESS):
        return "clean"
    return category.value


class TooSlowHere(Exception):
    """`scan_here` gave up: the scan would hold the caller's thread (and, for an engine
    that keeps the GIL, the whole process) longer than it may."""


class LocalEngine(ABC):
    """An engine that runs on this machine with no network."""

    #: Stable name, used as the results' engine_name and in the results cache key.
    name: ClassVar[str]
    #: Seconds one scan may take before it is reported as a timeout.
    timeout: float = 60.0

    @abstractmethod
    def version(self) -> str:
        """Engine and signature versions: a new version invalidates cached results."""

    @abstractmethod
    def scan_file(self, sample: Sample) -> list[EngineVerdict]:
        """Scan one file (blocking; runs on a worker thread). Raise EngineFailed on error."""

    def available(self) -> bool:
        """Whether the engine can run here (its daemon reachable, its rules compiled)."""
        return True

    def scans_inline(self, sample: Sample) -> bool:
        """Whether the runner should scan this sample with `run_here`, on its own thread,
        with no event loop and no hop to a pool thread: for an engine whose scan keeps
        the GIL (another thread would run it no sooner) and is quick on this sample (on a
        small file the hop cost about ten times YARA-X's own scan)."""
        return False

    def scan_here(self, sample: Sample) -> list[EngineVerdict]:
        """`scan_file` on the caller's thread, for `run_here`. Raises `TooSlowHere` when the
        scan would hold the caller's thread too long: the runner then uses `run`."""
        return self.scan_file(sample)

    async def run(self, sample: Sample, *, version: str | None = None) -> EngineReport:
        """Scan with a timeout; every failure becomes the report's error. `version`: the
        engine's, when the caller has just read it (else it is read here)."""
        started = time.monotonic()
        known = version or "unknown"
        try:
            if version is None:
                known = await asyncio.to_thread(self.version)
            verdicts = await asyncio.wait_for(
                asyncio.to_thread(self.scan_file, sample), self.timeout
            )
        except Exception as exc:
            return self._failed(sample, known, started, exc)
        return EngineReport(self.name, known, verdicts, seconds=time.monotonic() - started)

    def run_here(self, sample: Sample, *, version: str) -> EngineReport | None:
        """`run` on the caller's thread, for an engine that `scans_inline`: the same
        report, every failure its error; None when the engine gave up on scanning here
        (`TooSlowHere`), for the caller to `run` it instead."""
        started = time.monotonic()
        try:
            verdicts = self.scan_here(sample)
        except TooSlowHere:
            logger.info("engines.too_slow_here engine=%s sha256=%s", self.name, sample.sha256)
            return None
        except Exception as exc:
            return self._failed(sample, version, started, exc)
        return EngineReport(self.name, version, verdicts, seconds=time.monotonic() - started)

    def _failed(self, sample: Sample, known: str, started: float, exc: Exception) -> EngineReport:
        """The report of a scan that raised `exc` (re-raised when the process is stopping)."""
        seconds = time.monotonic() - started
        if isinstance(exc, TimeoutError):
            logger.warning("engines.timeout engine=%s sha256=%s", self.name, sample.sha256)
            verdict = EngineVerdict(self.name, known, Category.TIMEOUT, Category.TIMEOUT.value)
            return EngineReport(self.name, known, [verdict], seconds=seconds)
        if isinstance(exc, EngineFailed):
            logger.warning(
                "engines.failed engine=%s sha256=%s error=%s", self.name, sample.sha256, exc
            )
            return EngineReport(
                self.name, known, error=str(exc), retryable=exc.retryable, seconds=seconds
            )
        # A plug-in bug must not take the scan down with it.
        if refused_by_a_stopping_pool(exc):
            # The process is stopping and its thread pool takes no more work: neither
            # the file's doing nor the engine's. The runner leaves the scan to its lease.
            logger.warning(
                "engines.refused engine=%s sha256=%s reason=%s", self.name, sample.sha256, exc
            )
            raise exc
        logger.exception("engines.crashed engine=%s sha256=%s", self.name, sample.sha256)
        return EngineReport(
            self.name, known, error=f"{type(exc).__name__}: engine failed", seconds=seconds
        )
