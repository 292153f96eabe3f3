"""Running one claimed media scan: the analyzers, fusion, and one write of the outcome."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from veriscan.analyzers.base import MediaKind, MediaSample
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.core.loops import run_on_thread_loop
from veriscan.leases import LostClaim, keep_claim
from veriscan.media import events
from veriscan.media.models import LEASES, MediaEvidence, MediaScan, MediaStatus
from veriscan.notifications import service as notifications

logger = logging.getLogger("veriscan.media")

DEADLINE_REASON = "The analysis did not finish before its deadline"


@dataclass(frozen=True)
class Job:
    scan_id: uuid.UUID
    user_id: uuid.UUID
    token: str
    sample: MediaSample


def run_media_scan(context: AppContext, scan_id: uuid.UUID) -> None:
    """The queue task: claim, analyse, record. Safe to call any number of times."""
    # Before the claim: the first call imports the analyzers (over a second), and a lease
    # must not run out before its first renewal.
    context.media_analyzers()
    job = _claim(context, scan_id)
    if job is None:
        return
    logger.info("media.scan_started scan_id=%s kind=%s", scan_id, job.sample.kind.value)
    try:
        analysis = run_on_thread_loop(_execute(context, job))
    except LostClaim:
        logger.warning("media.claim_lost scan_id=%s", scan_id)
        return
    except Exception:
        if context.stopping.is_set():
            logger.warning("media.scan_left scan_id=%s reason=stopping", scan_id)
            return
        logger.exception("media.scan_crashed scan_id=%s", scan_id)
        _fail(context, job, "Internal error while analysing")
        return
    if context.stopping.is_set() and any(report.error for report in analysis.reports):
        # An analyzer's error while the process stops says nothing about the file.
        logger.warning("media.scan_left scan_id=%s reason=stopping", scan_id)
        return
    _record(context, job, analysis)


def _claim(context: AppContext, scan_id: uuid.UUID) -> Job | None:
    token = uuid.uuid4().hex
    lease = timedelta(seconds=context.settings.scan_lease_seconds)
    with context.db.session() as session:
        if not LEASES.claim(session, scan_id, token, utcnow(), lease):
            return None
        scan = session.get(MediaScan, scan_id)
        if scan is None:
            return None
        return Job(
            scan_id=scan.id,
            user_id=scan.user_id,
            token=token,
            sample=MediaSample(
                path=context.blobs.path_for(scan.sha256),
                kind=MediaKind(scan.media_type),
                mime_type=scan.mime_type,
                size=scan.file_size,
                sha256=scan.sha256,
            ),
        )


async def _execute(context: AppContext, job: Job) -> Any:
    from veriscan.analyzers.pipeline import analyze_media

    async def progress(stage: str, percent: int) -> None:
        def save() -> None:
            with context.db.session() as session:
                LEASES.owned(session, job.scan_id, job.token, stage=stage[:40], progress=percent)

        await asyncio.to_thread(save)
        events.progress(context, job.user_id, job.scan_id, percent, stage)

    async def analyse() -> Any:
        await progress("started", 5)
        return await analyze_media(
            job.sample,
            context.media_analyzers(),
            thresholds=context.media_thresholds(),
            progress=progress,
        )

    # The heartbeat starts with the work, so the lease is renewed from the claim on.
    analysis = asyncio.create_task(analyse())
    heartbeat = asyncio.create_task(
        keep_claim(
            context.db,
            LEASES,
            job.scan_id,
            job.token,
            timedelta(seconds=context.settings.scan_lease_seconds),
            [analysis],
        )
    )
    try:
        return await analysis
    except asyncio.CancelledError:
        if heartbeat.done() and isinstance(heartbeat.exception(), LostClaim):
            raise LostClaim from None
        raise
    finally:
        heartbeat.cancel()


def _record(context: AppContext, job: Job, analysis: Any) -> None:
    fused = analysis.fused
    metadata = dict(analysis.metadata)
    gps = metadata.get("gpsCoordinates") or None
    findings = [
        {
            "analyzer": report.analyzer,
            "error": report.error,
            "seconds": round(report.seconds, 3),
            "findings": [asdict(f) for f in report.findings],
        }
        for report in analysis.reports
    ]
    # The metadata analyzer reads the whole container: when it cannot, the file is corrupt
    # or truncated, and no verdict drawn from the rest (a manifest, a half-decoded picture)
    # would be honest. Otherwise the scan fails only if no analyzer could read the file.
    unreadable = [r.error for r in analysis.reports if r.analyzer == "metadata" and r.error]
    usable = [report for report in analysis.reports if report.error is None]
    with context.db.session() as session:
        if unreadable or not usable:
            reasons = "; ".join(unreadable) or "; ".join(r.error or "" for r in analysis.reports)
            reasons = reasons or "no analyzer applies"
            owned = LEASES.owned(
                session,
                job.scan_id,
                job.token,
                status=MediaStatus.FAILED.value,
                error=f"The file could not be analysed: {reasons}"[:2000],
                completed_at=utcnow(),
                lease_until=None,
                progress=100,
                stage="failed",
                findings=findings,
                media_metadata=metadata,
            )
            failed = True
        else:
            owned = LEASES.owned(
                session,
                job.scan_id,
                job.token,
                status=MediaStatus.COMPLETED.value,
                result=fused.verdict,
                risk_score=fused.risk_score,
                confidence=fused.confidence,
                video_score=fused.video_score,
                audio_score=fused.audio_score,
                gan_fingerprint=fused.gan_fingerprint,
                temporal_consistency=fused.temporal_consistency,
                explanation=fused.explanation,
                media_metadata=metadata,
                findings=findings,
                gps_latitude=gps.get("latitude") if isinstance(gps, dict) else None,
                gps_longitude=gps.get("longitude") if isinstance(gps, dict) else None,
                completed_at=utcnow(),
                lease_until=None,
                progress=100,
                stage="completed",
            )
            failed = False
        if not owned:
            logger.warning("media.claim_lost_at_record scan_id=%s", job.scan_id)
            return
        session.add_all(
            MediaEvidence(
                scan_id=job.scan_id, name=item.name, caption=item.caption, content=item.png
            )
            for item in analysis.evidence
        )
        scan = session.get(MediaScan, job.scan_id)
        assert scan is not None
        # In the transaction of the final status: the notification exists iff the outcome does.
        notice = notifications.notify_scan_finished(
            session,
            context,
            notifications.media_finished(
                user_id=job.user_id,
                scan_id=job.scan_id,
                file_name=scan.file_name,
                verdict=scan.result,
                risk_score=scan.risk_score,
                error=scan.error if failed else None,
            ),
        )
    if failed:
        events.error(context, job.user_id, job.scan_id, "The file could not be analysed")
    else:
        logger.info(
            "media.scan_finished scan_id=%s verdict=%s risk=%s",
            job.scan_id,
            fused.verdict,
            fused.risk_score,
        )
        events.complete(context, job.user_id, job.scan_id, fused.verdict, fused.risk_score)
    notifications.deliver(context, notice)


def _fail(context: AppContext, job: Job, reason: str) -> None:
    with context.db.session() as session:
        owned = LEASES.owned(
            session,
            job.scan_id,
            job.token,
            status=MediaStatus.FAILED.value,
            error=reason,
            completed_at=utcnow(),
            lease_until=None,
            progress=100,
            stage="failed",
        )
        scan = session.get(MediaScan, job.scan_id) if owned else None
        notice = (
            notifications.notify_scan_finished(
                session,
                context,
                notifications.media_finished(
                    user_id=job.user_id,
                    scan_id=job.scan_id,
                    file_name=scan.file_name,
                    verdict=None,
                    risk_score=None,
                    error=reason,
                ),
            )
            if scan is not None
            else None
        )
    if owned:
        events.error(context, job.user_id, job.scan_id, reason)
    if notice is not None:
        notifications.deliver(context, notice)


def sweep(context: AppContext) -> list[uuid.UUID]:
    now = utcnow()
    lease = timedelta(seconds=context.settings.scan_lease_seconds)
    with context.db.session() as session:
        overdue = LEASES.fail_overdue(session, now, MediaStatus.FAILED.value, DEADLINE_REASON)
        lapsed = LEASES.release_lapsed(session, now, lease)
        notices = [
            notifications.notify_scan_finished(
                session,
                context,
                notifications.media_finished(
                    user_id=user_id,
                    scan_id=scan_id,
                    file_name=scan.file_name if scan is not None else "a file",
                    verdict=None,
                    risk_score=None,
                    error=DEADLINE_REASON,
                ),
            )
            for scan_id, user_id in overdue
            for scan in [session.get(MediaScan, scan_id)]
        ]
    for scan_id, user_id in overdue:
        events.error(context, user_id, scan_id, DEADLINE_REASON)
    for notice in notices:
        notifications.deliver(context, notice)
    return lapsed
