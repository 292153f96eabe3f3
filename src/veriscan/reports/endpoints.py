"""Downloads: a media scan as JSON, CSV or PDF; every scan of a listing as JSON or CSV.

Registered before the media and malware routers, so that /api/scans/export is not read
as the scan whose id is "export".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from veriscan.audit.service import Origin
from veriscan.deps import Context, CurrentUser, DbSession, parse_uuid
from veriscan.malware import service as malware_service
from veriscan.malware.endpoints import ListingQuery
from veriscan.malware.schemas import ExportFormat
from veriscan.media import service as media_service
from veriscan.media.endpoints import HistoryQuery, detail
from veriscan.media.models import MediaScan
from veriscan.openapi import ResourceId, errors
from veriscan.reports import service
from veriscan.reports.service import BULK_MEDIA_TYPES, BulkFormat

router = APIRouter(tags=["reports"])
# One malware scan's export, among the malware scans' paths (app.py includes it right after
# malware's router, where it was).
malware_router = APIRouter(prefix="/api/scan", tags=["malware scans"])

MediaExportFormat = Literal["json", "csv", "pdf"]
FORMAT_HELP = "json: the API's fields; csv: for a spreadsheet"


def _download(filename: str) -> dict[str, str]:
    # The names are built here from ids and a timestamp: nothing in them needs quoting.
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _bulk_responses() -> dict[int | str, dict[str, Any]]:
    return {
        **errors(400, 401),
        200: {
            "description": "A download, streamed: a JSON array, or CSV with a header row",
            "content": {"application/json": {}, "text/csv": {}},
        },
    }


def _listed(scan: MediaScan, operative: str) -> dict[str, Any]:
    """A scan as GET /api/scans/{id} gives it, without the evidence (one query each)."""
    document = detail(scan, operative, []).model_dump(mode="json")
    del document["evidence"]
    return document


@router.get("/api/scans/export", responses=_bulk_responses(), response_class=StreamingResponse)
def export_media_scans(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    context: Context,
    filters: HistoryQuery,
    format_: Annotated[BulkFormat, Query(alias="format", description=FORMAT_HELP)] = "json",
) -> StreamingResponse:
    """Every media scan the history shows with these filters (all pages), streamed."""
    service.check_media_filters(filters)
    count = service.count_media(session, user, filters)
    details = {"format": format_, "kind": "media", "count": count}
    origin = Origin.of(request)
    service.record_export(context, user, action="scan.bulk_export", origin=origin, details=details)
    return StreamingResponse(
        service.stream_media(context, user, filters, format_, _listed),
        media_type=BULK_MEDIA_TYPES[format_],
        headers=_download(service.bulk_filename("media", format_, datetime.now(UTC))),
    )


@router.get("/api/scan/export", responses=_bulk_responses(), response_class=StreamingResponse)
def export_malware_scans(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    context: Context,
    filters: ListingQuery,
    format_: Annotated[BulkFormat, Query(alias="format", description=FORMAT_HELP)] = "json",
) -> StreamingResponse:
    """Every malware scan of the caller that GET /api/scan/results lists with these
    filters (all pages), streamed."""
    service.check_malware_filters(filters)
    count = service.count_malware(session, user, filters)
    details = {"format": format_, "kind": "malware", "count": count}
    origin = Origin.of(request)
    service.record_export(context, user, action="scan.bulk_export", origin=origin, details=details)
    return StreamingResponse(
        service.stream_malware(context, user, filters, format_),
        media_type=BULK_MEDIA_TYPES[format_],
        headers=_download(service.bulk_filename("malware", format_, datetime.now(UTC))),
    )


@router.get(
    "/api/scans/{scan_id}/export",
    responses={
        **errors(400, 401, 404),
        200: {
            "description": "A download",
            "content": {"application/json": {}, "text/csv": {}, "application/pdf": {}},
        },
    },
    response_class=Response,
)
async def export_media_scan(
    scan_id: ResourceId,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    context: Context,
    format_: Annotated[MediaExportFormat, Query(alias="format")] = "json",
) -> Response:
    """One media scan as JSON (as GET /api/scans/{id}), CSV, or a PDF with its evidence."""
    # As GET /api/scans/{id}: a malformed id is a scan that does not exist.
    parsed = parse_uuid(scan_id, invalid_status=404, not_found=media_service.SCAN_NOT_FOUND)
    body, media_type, filename = await run_in_threadpool(
        service.export_media, session, user, parsed, format_, _scan_document
    )
    await run_in_threadpool(
        lambda: service.record_export(
            context,
            user,
            action="scan.export",
            origin=Origin.of(request),
            target_id=parsed,
            details={"format": format_, "kind": "media"},
        )
    )
    return Response(body, media_type=media_type, headers=_download(filename))


def _scan_document(view: media_service.ScanView) -> dict[str, Any]:
    return detail(view.scan, view.operative, view.evidence).model_dump(mode="json")


@malware_router.get(
    "/{scan_id}/export",
    responses={
        **errors(400, 401, 404),
        200: {
            "description": "A download",
            "content": {"application/json": {}, "text/csv": {}, "application/pdf": {}},
        },
    },
    response_class=Response,
)
async def export_scan(
    scan_id: ResourceId,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    context: Context,
    format_: Annotated[ExportFormat, Query(alias="format")] = "json",
) -> Response:
    parsed = parse_uuid(scan_id, invalid_status=400, not_found=malware_service.SCAN_NOT_FOUND)
    body, media_type, filename = await run_in_threadpool(
        service.export_malware, session, user, parsed, format_
    )
    await run_in_threadpool(
        lambda: service.record_export(
            context,
            user,
            action="scan.export",
            origin=Origin.of(request),
            target_id=parsed,
            details={"format": format_},
        )
    )
    return Response(body, media_type=media_type, headers=_download(filename))
