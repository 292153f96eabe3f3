"""Exports: one scan of either kind rendered whole, or every scan of a listing streamed.

A bulk export can hold every scan in the database, so it is never built in memory: the
generator reads rows in batches (`yield_per`: a server-side cursor on PostgreSQL) and
writes each as it arrives. The request's session is closed by the time the response body
is sent, so the generator opens a read session of its own.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.orm import Session

from veriscan.accounts.models import User
from veriscan.audit import service as audit
from veriscan.audit.service import Origin
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.core.errors import ValidationFailed
from veriscan.core.streams import buffered, json_array
from veriscan.malware import service as malware_service
from veriscan.malware.models import MalwareScan
from veriscan.malware.repository import ScanFilters, ScanRepository
from veriscan.media import service as media_service
from veriscan.media.models import MediaScan
from veriscan.media.repository import HistoryFilters, MediaScanRepository
from veriscan.reports import tabular

if TYPE_CHECKING:
    from veriscan.reports.malware import ExportFormat, MalwareReport

logger = logging.getLogger("veriscan.reports")

BulkFormat = Literal["json", "csv"]
# Rows per fetch: enough to keep round trips rare, few enough to keep memory flat.
BATCH_ROWS = 200
BULK_MEDIA_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8"}

MediaDocument = Callable[[MediaScan, str], dict[str, Any]]

MALWARE_COLUMNS = (
    "scan_id",
    "file_id",
    "filename",
    "sha256",
    "status",
    "detection_ratio",
    "malicious",
    "suspicious",
    "undetected",
    "harmless",
    "scan_date",
    "error",
)


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")


def bulk_filename(kind: str, fmt: BulkFormat, now: datetime) -> str:
    return f"veriscan-{kind}-scans-{_stamp(now)}.{fmt}"


# --- one malware scan --------------------------------------------------------------------


def build_malware_report(view: malware_service.ScanView, user: User) -> MalwareReport:
    # ReportLab loads only when someone exports: it would cost every server ~8 MB idle.
    from veriscan.reports import malware as report

    scan, file = view.scan, view.file
    return report.MalwareReport(
        scan_id=str(scan.id),
        file_id=str(file.id),
        file=report.ReportFile(
            filename=file.filename,
            file_size=file.file_size,
            mime_type=file.mime_type,
            hash_md5=file.hash_md5,
            hash_sha1=file.hash_sha1,
            hash_sha256=file.hash_sha256,
            upload_date=file.upload_date,
        ),
        status=scan.status,
        detection_ratio=scan.detection_ratio,
        scan_date=scan.scan_date,
        error=scan.error,
        summary=malware_service.summary_of(scan),
        results=[
            report.ReportEngineRow(
                r.engine_name, r.engine_version, r.result, r.category, r.update_date
            )
            for r in view.results
        ],
        generated_at=utcnow(),
        requested_by=user.username,
    )


def export_malware(
    session: Session, user: User, scan_id: uuid.UUID, fmt: ExportFormat
) -> tuple[bytes, str, str]:
    """The export's bytes, media type and download file name; NotFound when not visible."""
    view = malware_service.get_scan(session, user, scan_id, with_results=True)
    built = build_malware_report(view, user)
    from veriscan.reports import malware as report

    renderers = {"json": report.to_json, "csv": report.to_csv, "pdf": report.to_pdf}
    logger.info("malware.exported scan_id=%s format=%s user_id=%s", scan_id, fmt, user.id)
    return renderers[fmt](built), report.MEDIA_TYPES[fmt], report.export_filename(built, fmt)


# --- one media scan ----------------------------------------------------------------------


def export_media(
    session: Session,
    user: User,
    scan_id: uuid.UUID,
    fmt: str,
    document: Callable[[media_service.ScanView], dict[str, Any]],
) -> tuple[bytes, str, str]:
    """The export's bytes, media type and download file name; NotFound when not visible."""
    view = media_service.get_scan(session, user, scan_id)
    from veriscan.reports import media as report  # ReportLab only when a report is asked for

    built = report.MediaReport(
        scan=document(view),
        mime_type=view.scan.mime_type,
        evidence=[
            report.ReportEvidence(item.name, item.caption, item.media_type, item.content)
            for item in view.evidence
        ],
        generated_at=datetime.now(UTC),
        requested_by=user.username,
    )
    renderers = {"json": report.to_json, "csv": report.to_csv, "pdf": report.to_pdf}
    logger.info("media.exported scan_id=%s format=%s user_id=%s", scan_id, fmt, user.id)
    body = renderers[fmt](built)
    return body, report.MEDIA_TYPES[fmt], report.export_filename(str(scan_id), fmt)


def record_export(
    context: AppContext,
    user: User,
    *,
    action: str,
    origin: Origin,
    details: dict[str, Any],
    target_id: uuid.UUID | str = "",
) -> None:
    """The audit entry of an export, in a short write transaction of its own: the
    request's transaction is a read-only one (GET), which SQLite will not let write."""
    with context.db.session() as session:
        audit.record(
            session,
            action=action,
            actor=user,
            origin=origin,
            target_type="scan",
            target_id=target_id,
            details=details,
        )


# --- bulk --------------------------------------------------------------------------------


def check_media_filters(filters: HistoryFilters) -> None:
    # The history's own check (media/service.py), made before the first byte is sent.
    if filters.start_date and filters.end_date and filters.start_date > filters.end_date:
        raise ValidationFailed("startDate is after endDate")


def check_malware_filters(filters: ScanFilters) -> None:
    # The listing's own checks (malware/service.py), made before the first byte is sent.
    low, high = filters.detection_min, filters.detection_max
    if low is not None and high is not None and low > high:
        raise ValidationFailed("detection_min is greater than detection_max")
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise ValidationFailed("date_from is after date_to")


def count_media(session: Session, viewer: User, filters: HistoryFilters) -> int:
    return MediaScanRepository(session).count(viewer, filters)


def count_malware(session: Session, user: User, filters: ScanFilters) -> int:
    return ScanRepository(session).count(user, filters)


def stream_media(
    context: AppContext,
    viewer: User,
    filters: HistoryFilters,
    fmt: BulkFormat,
    document: MediaDocument,
) -> Iterator[bytes]:
    """Every media scan of the history's filters, in its order, as JSON or CSV bytes."""

    def documents() -> Iterator[dict[str, Any]]:
        with context.db.session(writes=False) as session:
            repository = MediaScanRepository(session)
            query = repository.ordered(repository.filtered(viewer, filters), filters)
            for scan, operative in session.execute(query.execution_options(yield_per=BATCH_ROWS)):
                yield document(scan, operative)

    if fmt == "json":
        chunks = json_array(documents())
    else:
        rows = (
            [*tabular.media_field_values(item), item.get("metadata") or {}] for item in documents()
        )
        chunks = tabular.csv_rows([*tabular.MEDIA_FIELDS, "metadata"], rows)
    yield from buffered(chunks)


def malware_item(scan: MalwareScan, filename: str) -> dict[str, Any]:
    return {
        "scan_id": str(scan.id),
        "file_id": str(scan.file_id),
        "filename": filename,
        "sha256": scan.sha256,
        "status": scan.status,
        "detection_ratio": scan.detection_ratio,
        "malicious": scan.malicious,
        "suspicious": scan.suspicious,
        "undetected": scan.undetected,
        "harmless": scan.harmless,
        "scan_date": _iso(scan.scan_date),
        "error": scan.error,
    }


def stream_malware(
    context: AppContext, user: User, filters: ScanFilters, fmt: BulkFormat
) -> Iterator[bytes]:
    """Every malware scan of the caller that the listing's filters keep, as JSON or CSV."""

    def items() -> Iterator[dict[str, Any]]:
        with context.db.session(writes=False) as session:
            repository = ScanRepository(session)
            query = repository.ordered(repository.filtered(user, filters), filters)
            for scan, filename in session.execute(query.execution_options(yield_per=BATCH_ROWS)):
                yield malware_item(scan, filename)

    if fmt == "json":
        chunks = json_array(items())
    else:
        rows = ([item[key] for key in MALWARE_COLUMNS] for item in items())
        chunks = tabular.csv_rows(MALWARE_COLUMNS, rows)
    yield from buffered(chunks)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
