from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from veriscan.audit.service import Origin
from veriscan.core.dates import iso_millis, parse_bound
from veriscan.core.errors import NotFound
from veriscan.deps import Context, CurrentUser, DbSession, parse_uuid
from veriscan.media import service
from veriscan.media.models import MediaEvidence, MediaScan
from veriscan.media.repository import HistoryFilters
from veriscan.media.schemas import (
    DeletedEnvelope,
    EvidenceOut,
    FrameOut,
    GpsOut,
    HistoryEnvelope,
    HistoryItem,
    HistoryPagination,
    MediaTypeFilter,
    ScanDetail,
    ScanEnvelope,
    SortBy,
    SortOrder,
    StatusFilter,
    TagsChange,
    TagsReplace,
    VerdictFilter,
)
from veriscan.openapi import DATE_OR_DATE_TIME, ResourceId, Scope, errors, multipart_upload

router = APIRouter(prefix="/api/scans", tags=["media scans"])

UPLOAD_BODY = multipart_upload(tags={"type": "string", "description": "Comma-separated tags"})
EVIDENCE_NAME = re.compile(r"^[a-z0-9-]{1,40}$")


def frames_of(scan: MediaScan) -> list[FrameOut] | None:
    """A video's sampled frames, from the video analyzer's findings."""
    if scan.media_type != "VIDEO":
        return None
    for report in scan.findings or []:
        for finding in report.get("findings") or []:
            if finding.get("signal") != "video_frames":
                continue
            frames = (finding.get("details") or {}).get("per_frame") or []
            return [
                FrameOut(
                    time=frame["time"],
                    score=None if frame.get("score") is None else round(100 * frame["score"]),
                    faces=frame.get("faces", 0),
                )
                for frame in frames
            ]
    return []


def detail(scan: MediaScan, operative: str, evidence: list[MediaEvidence]) -> ScanDetail:
    gps = None
    if scan.gps_latitude is not None and scan.gps_longitude is not None:
        gps = GpsOut(latitude=scan.gps_latitude, longitude=scan.gps_longitude)
    return ScanDetail(
        id=str(scan.id),
        fileName=scan.file_name,
        mediaType=scan.media_type,
        fileSize=scan.file_size,
        status=scan.status,
        result=scan.result,
        riskScore=scan.risk_score,
        confidence=scan.confidence,
        videoScore=scan.video_score,
        audioScore=scan.audio_score,
        ganFingerprint=scan.gan_fingerprint,
        temporalConsistency=scan.temporal_consistency,
        explanation=scan.explanation,
        metadata=dict(scan.media_metadata or {}),
        gpsCoordinates=gps,
        hash=f"sha256:{scan.sha256}",
        timestamp=iso_millis(scan.created_at),
        operative=operative,
        tags=list(scan.tags or []),
        progress=scan.progress,
        stage=scan.stage,
        error=scan.error,
        frames=frames_of(scan),
        evidence=[
            EvidenceOut(
                name=item.name,
                caption=item.caption,
                url=f"/api/scans/{scan.id}/evidence/{item.name}",
            )
            for item in evidence
        ],
    )


@router.post(
    "/upload",
    responses={**errors(400, 401, 413), 202: {"model": ScanEnvelope}},
    openapi_extra=UPLOAD_BODY,
)
async def upload(request: Request, user: CurrentUser, context: Context) -> JSONResponse:
    """Upload an image, video or audio file; waits a while for the analysis (200), else 202.
    With `Prefer: respond-async` (RFC 7240) it answers 202 at once."""
    scan, finished = await service.upload(context, user, request, origin=Origin.of(request))
    body = ScanEnvelope(data=detail(scan, user.name, []))
    if finished:
        with context.db.session(writes=False) as session:
            view = service.get_scan(session, user, scan.id)
        body = ScanEnvelope(data=detail(view.scan, view.operative, view.evidence))
    headers = {"Preference-Applied": "respond-async"} if service.respond_async(request) else None
    return JSONResponse(
        body.model_dump(mode="json"), status_code=200 if finished else 202, headers=headers
    )


def history_filters(
    search: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Full text over file name, tags, explanation and operative: every "
            "whitespace-separated term must match, its words in order (batch-2), the last as a "
            "prefix.",
        ),
    ] = None,
    status: StatusFilter | None = None,
    media_type: Annotated[MediaTypeFilter | None, Query(alias="mediaType")] = None,
    verdict: VerdictFilter | None = None,
    start_date: Annotated[
        str | None, Query(alias="startDate", max_length=40, json_schema_extra=DATE_OR_DATE_TIME)
    ] = None,
    end_date: Annotated[
        str | None, Query(alias="endDate", max_length=40, json_schema_extra=DATE_OR_DATE_TIME)
    ] = None,
    sort_by: Annotated[SortBy, Query(alias="sortBy")] = "date",
    sort_order: Annotated[SortOrder, Query(alias="sortOrder")] = "desc",
    scope: Annotated[
        Scope,
        Query(
            description="all: every scan the caller may read; own: the caller's; shared: "
            "shared with the caller; assigned: assigned to the caller"
        ),
    ] = "all",
) -> HistoryFilters:
    """The history's filters, shared with its bulk export (reports/endpoints.py)."""
    return HistoryFilters(
        scope=scope,
        search=search.strip() if search else None,
        status=status,
        media_type=media_type,
        verdict=verdict,
        start_date=parse_bound("startDate", start_date, end_of_day=False),
        end_date=parse_bound("endDate", end_date, end_of_day=True),
        sort_by=sort_by,
        sort_order=sort_order,
    )


HistoryQuery = Annotated[HistoryFilters, Depends(history_filters)]


@router.get("/history", responses=errors(400, 401))
def history(
    user: CurrentUser,
    session: DbSession,
    filters: HistoryQuery,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> HistoryEnvelope:
    filters = replace(filters, page=page, limit=limit)
    rows, total, pages = service.history(session, user, filters)
    return HistoryEnvelope(
        data=[
            HistoryItem(
                id=str(scan.id),
                fileName=scan.file_name,
                type=scan.media_type,
                result=scan.result,
                score=scan.risk_score,
                timestamp=iso_millis(scan.created_at),
                operative=operative,
                status=scan.status,
                hash=scan.sha256,
            )
            for scan, operative in rows
        ],
        pagination=HistoryPagination(total=total, page=page, limit=limit, pages=pages),
    )


def _scan_id(value: str) -> uuid.UUID:
    return parse_uuid(value, invalid_status=404, not_found=service.SCAN_NOT_FOUND)


@router.get("/{scan_id}", responses=errors(401, 404))
def get_scan(scan_id: ResourceId, user: CurrentUser, session: DbSession) -> ScanEnvelope:
    view = service.get_scan(session, user, _scan_id(scan_id))
    return ScanEnvelope(data=detail(view.scan, view.operative, view.evidence))


@router.patch("/{scan_id}/tags", responses=errors(400, 401, 404))
def edit_tags(
    scan_id: ResourceId,
    body: TagsReplace | TagsChange,
    request: Request,
    user: CurrentUser,
    session: DbSession,
) -> ScanEnvelope:
    """Replace the scan's tags ({"tags": [...]}) or change them ({"add", "remove"}).

    Each tag is trimmed and 1-50 characters; duplicates (whatever their case) are dropped;
    at most 20 remain. The owner, analysts and admins may edit; others get 404.
    """
    parsed = _scan_id(scan_id)
    if isinstance(body, TagsReplace):
        view = service.edit_tags(
            session, user, parsed, replace=body.tags, origin=Origin.of(request)
        )
    else:
        view = service.edit_tags(
            session, user, parsed, add=body.add, remove=body.remove, origin=Origin.of(request)
        )
    return ScanEnvelope(data=detail(view.scan, view.operative, view.evidence))


@router.get(
    "/{scan_id}/evidence/{name}",
    responses={**errors(401, 404), 200: {"content": {"image/png": {}}}},
    response_class=Response,
)
def get_evidence(scan_id: ResourceId, name: str, user: CurrentUser, session: DbSession) -> Response:
    if not EVIDENCE_NAME.match(name):
        raise NotFound("Evidence not found")
    item = service.get_evidence(session, user, _scan_id(scan_id), name)
    return Response(
        item.content,
        media_type=item.media_type,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def served_type(scan: MediaScan) -> str:
    """The analysed file's type as served: what its bytes are, when a browser can only
    show it (never a type that can hold script, such as SVG); otherwise plain bytes."""
    kind = scan.mime_type.split("/", 1)[0]
    if (
        kind in ("image", "video", "audio")
        and "svg" not in scan.mime_type
        and "xml" not in scan.mime_type
    ):
        return scan.mime_type
    return "application/octet-stream"


@router.get(
    "/{scan_id}/file",
    responses={
        **errors(401, 404),
        200: {
            "description": "The picture, video or recording, in the type its content has",
            "content": {
                kind: {"schema": {"type": "string", "format": "binary"}}
                for kind in ("image/*", "video/*", "audio/*", "application/octet-stream")
            },
        },
    },
    response_class=FileResponse,
)
def get_file(
    scan_id: ResourceId, user: CurrentUser, session: DbSession, context: Context
) -> FileResponse:
    """The analysed file itself (streamed from storage), for those who may read the scan:
    shown inline by the dashboard, never run (the API's `default-src 'none'` policy, no
    sniffing, never a type that can hold script)."""
    scan = service.get_scan(session, user, _scan_id(scan_id)).scan
    path = context.blobs.path_for(scan.sha256)
    if not path.is_file():
        raise NotFound("The file is no longer stored")
    return FileResponse(
        path,
        media_type=served_type(scan),
        filename=scan.file_name,
        content_disposition_type="inline",
        # Not kept in the browser's cache (the API's no-store): it may be evidence.
        headers={"X-Content-Type-Options": "nosniff"},
    )


@router.delete("/{scan_id}", responses=errors(401, 403, 404))
async def delete_scan(
    scan_id: ResourceId, request: Request, user: CurrentUser, context: Context
) -> DeletedEnvelope:
    await run_in_threadpool(
        service.delete_scan, context, user, _scan_id(scan_id), origin=Origin.of(request)
    )
    return DeletedEnvelope(message="Scan deleted successfully")
