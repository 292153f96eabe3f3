"""Every kind of job in one place: registered on a process's queue, swept together.

A queued task carries only a scan id; the scan rows are the truth (see leases.py), so
enqueueing happens after the row is committed, and a wake-up call that is lost, or a
worker that dies, is made good by the sweep, which finds the scan by its lapsed lease.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Imported for what it registers: the grant of cases (scans.access), so that a worker tells
# a case's owner and members of the end of a scan in it. Sharing's grants come with the
# scan repositories the runners import.
import veriscan.cases.access  # noqa: F401
from veriscan.context import AppContext
from veriscan.core.db import background_work
from veriscan.malware import dispatch as malware_dispatch
from veriscan.malware import runner as malware_runner
from veriscan.media import runner as media_runner

logger = logging.getLogger("veriscan.jobs")


@contextmanager
def in_background() -> Iterator[None]:
    """A queued job's work: on SQLite its write transactions let requests' go first."""
    token = background_work.set(True)
    try:
        yield
    finally:
        background_work.reset(token)


def _scan_task(
    context: AppContext, name: str, run: Callable[[AppContext, uuid.UUID], None]
) -> Callable[[uuid.UUID], None]:
    """Register `run` as the queue task `name`; returns the function that enqueues it."""

    @context.huey.task(name=name)  # type: ignore[untyped-decorator]
    def task(scan_id: str) -> None:
        with in_background():
            run(context, uuid.UUID(scan_id))

    def enqueue(scan_id: uuid.UUID) -> None:
        try:
            task(str(scan_id))
        except Exception:  # the sweep finds the scan by its lapsed lease
            logger.exception("jobs.enqueue_failed task=%s scan_id=%s", name, scan_id)

    return enqueue


def _dispatch_task(context: AppContext) -> Callable[[str], None]:
    @context.huey.task(name="malware.dispatch")  # type: ignore[untyped-decorator]
    def task(vt_key: str) -> None:
        with in_background():
            malware_dispatch.dispatch(context, vt_key)

    def enqueue(vt_key: str) -> None:
        try:
            task(vt_key)
        except Exception:  # the sweep dispatches every key with a scan due
            logger.exception("jobs.enqueue_failed task=malware.dispatch")

    return enqueue


def register_all(context: AppContext) -> None:
    context.enqueue_scan = _scan_task(context, "malware.run_scan", malware_runner.run_scan)
    context.enqueue_media = _scan_task(context, "media.run_scan", media_runner.run_media_scan)
    context.enqueue_dispatch = _dispatch_task(context)
    context.release_key_scans = lambda session, key_id, reason: malware_runner.release_key_scans(
        session, context, key_id, reason
    )


STATISTICS_EVERY_SECONDS = 3600.0


def sweep_all(context: AppContext) -> None:
    with in_background():
        _sweep_all(context)


def _sweep_all(context: AppContext) -> None:
    now = time.monotonic()
    if now >= context.statistics_due:
        # At start, then hourly: the planner's view of a growing database.
        context.statistics_due = now + STATISTICS_EVERY_SECONDS
        try:
            context.db.refresh_statistics()
        except Exception:  # a busy database: the next round tries again
            logger.warning("jobs.statistics_failed", exc_info=True)
    for sweep, enqueue, kind in (
        (malware_runner.sweep, context.enqueue_scan, "malware"),
        (media_runner.sweep, context.enqueue_media, "media"),
    ):
        for scan_id in sweep(context):
            logger.info("jobs.requeued kind=%s scan_id=%s", kind, scan_id)
            enqueue(scan_id)
