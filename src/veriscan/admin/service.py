"""System statistics for admins, counted by the database."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from veriscan.accounts.models import Role, User
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.malware.models import MalwareScan
from veriscan.media.models import MediaScan, MediaStatus, Verdict


def _counts(session: Session, column: Any) -> dict[str, int]:
    return {
        str(key): int(n)
        for key, n in session.execute(select(column, func.count()).group_by(column))
    }


def statistics(session: Session, context: AppContext) -> dict[str, Any]:
    since = utcnow() - timedelta(hours=24)
    users_by_active = _counts(session, User.is_active)
    users_by_role = _counts(session, User.role)
    by_status = _counts(session, MediaScan.status)
    by_verdict = _counts(session, MediaScan.result)
    by_type = _counts(session, MediaScan.media_type)
    malware_by_status = _counts(session, MalwareScan.status)
    return {
        "users": {
            "total": sum(users_by_active.values()),
            "active": users_by_active.get("True", 0) + users_by_active.get("1", 0),
            "inactive": users_by_active.get("False", 0) + users_by_active.get("0", 0),
            "byRole": {role.value: users_by_role.get(role.value, 0) for role in Role},
            "newLast24h": session.scalar(select(func.count()).where(User.created_at >= since)) or 0,
        },
        "scans": {
            "total": sum(by_status.values()),
            "completed": by_status.get(MediaStatus.COMPLETED.value, 0),
            "pending": by_status.get(MediaStatus.PENDING.value, 0),
            "processing": by_status.get(MediaStatus.PROCESSING.value, 0),
            "failed": by_status.get(MediaStatus.FAILED.value, 0),
            "byVerdict": {verdict.value: by_verdict.get(verdict.value, 0) for verdict in Verdict},
            "byMediaType": {kind: by_type.get(kind, 0) for kind in ("VIDEO", "IMAGE", "AUDIO")},
            "newLast24h": session.scalar(select(func.count()).where(MediaScan.created_at >= since))
            or 0,
        },
        # Beyond the document: the malware side of the same service.
        "malwareScans": {
            "total": sum(malware_by_status.values()),
            "byStatus": malware_by_status,
            "newLast24h": session.scalar(
                select(func.count()).where(MalwareScan.created_at >= since)
            )
            or 0,
        },
        "system": {
            # The database answered (these counts come from it); the queue is asked here.
            "health": "operational" if _queue_answers(context) else "degraded",
            "uptime": int(time.monotonic() - context.started_at),
        },
    }


def _queue_answers(context: AppContext) -> bool:
    try:
        context.huey.pending_count()
    except Exception:
        return False
    return True
