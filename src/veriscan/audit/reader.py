"""The audit log for admins: a filtered listing and a streamed CSV export."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from veriscan.accounts.models import User
from veriscan.audit import service as audit
from veriscan.audit.models import AuditEvent
from veriscan.audit.repository import AuditFilters, AuditRepository
from veriscan.context import AppContext
from veriscan.core.dates import iso_millis
from veriscan.core.errors import ValidationFailed

logger = logging.getLogger("veriscan.audit")

CSV_COLUMNS = (
    "created_at",
    "actor_username",
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "ip_address",
    "user_agent",
    "details",
)
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
# Rows written to the response at a time.
_CHUNK_ROWS = 200
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _check(filters: AuditFilters) -> None:
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise ValidationFailed("date_from is after date_to")


def list_events(
    session: Session, filters: AuditFilters, *, page: int, per_page: int
) -> tuple[list[AuditEvent], int, int]:
    _check(filters)
    rows, total = AuditRepository(session).page(filters, page=page, per_page=per_page)
    return rows, total, math.ceil(total / per_page) if total else 0


def _cell(value: str) -> str:
    # Usernames, file names and user agents are chosen by users: a cell a spreadsheet
    # would run as a formula is quoted (OWASP CSV injection).
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _csv_row(event: AuditEvent) -> list[str]:
    return [
        _cell(value)
        for value in (
            iso_millis(event.created_at),
            event.actor_username,
            str(event.actor_id or ""),
            event.action,
            event.target_type,
            event.target_id,
            event.ip_address,
            event.user_agent,
            json.dumps(event.details, ensure_ascii=False, sort_keys=True) if event.details else "",
        )
    ]


def export_filename() -> str:
    return f"veriscan-audit-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.csv"


def start_export(
    context: AppContext, admin: User, filters: AuditFilters, *, origin: audit.Origin
) -> Iterator[bytes]:
    """Record the export (committed before the first byte leaves, so a download cut
    short is still on record), then return the CSV rows as a lazy stream."""
    _check(filters)
    with context.db.session() as session:
        audit.record(
            session,
            action="audit.export",
            actor=admin,
            origin=origin,
            target_type="audit",
            details={
                "format": "csv",
                "filters": {
                    name: value.isoformat() if isinstance(value, datetime) else value
                    for name, value in asdict(filters).items()
                    if value
                },
            },
        )
    logger.info("audit.exported by=%s", admin.id)
    return _csv_stream(context, filters)


def _csv_stream(context: AppContext, filters: AuditFilters) -> Iterator[bytes]:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    # A read transaction of its own: the request's one has ended when the body streams.
    with context.db.session(writes=False) as session:
        for count, event in enumerate(AuditRepository(session).stream(filters), start=1):
            writer.writerow(_csv_row(event))
            if count % _CHUNK_ROWS == 0:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode("utf-8")
