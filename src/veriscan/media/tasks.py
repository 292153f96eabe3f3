"""The queue tasks of media scans, registered on a process's huey instance."""

from __future__ import annotations

import logging
import uuid

from veriscan.context import AppContext
from veriscan.media import runner

logger = logging.getLogger("veriscan.media")


def register(context: AppContext) -> None:
    huey = context.huey

    @huey.task(name="media.run_scan")  # type: ignore[untyped-decorator]
    def run_media_scan_task(scan_id: str) -> None:
        runner.run_media_scan(context, uuid.UUID(scan_id))

    def enqueue(scan_id: uuid.UUID) -> None:
        try:
            run_media_scan_task(str(scan_id))
        except Exception:  # the sweeper finds the scan by its lapsed lease
            logger.exception("media.enqueue_failed scan_id=%s", scan_id)

    context.enqueue_media = enqueue


def sweep(context: AppContext) -> None:
    for scan_id in runner.sweep(context):
        logger.info("media.requeued scan_id=%s", scan_id)
        context.enqueue_media(scan_id)
