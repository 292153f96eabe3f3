from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from starlette.concurrency import run_in_threadpool

from veriscan.audit.service import Origin
from veriscan.batches import service
from veriscan.batches.models import Batch
from veriscan.batches.schemas import (
    BatchDetail,
    BatchEnvelope,
    BatchItem,
    BatchListEnvelope,
    BatchListItem,
    BatchPagination,
    BatchScan,
    BatchSummary,
    BatchUpload,
    BatchUploadEnvelope,
    ItemError,
    StoredMediaScans,
)
from veriscan.core.dates import iso_millis
from veriscan.core.errors import PayloadTooLarge, ValidationFailed
from veriscan.deps import Context, CurrentUser, DbSession, parse_uuid
from veriscan.files.service import file_too_large
from veriscan.media.service import parse_tags
from veriscan.openapi import ResourceId, errors, multipart_batch

router = APIRouter(tags=["batches"])

MEDIA_BODY = multipart_batch(
    tags={"type": "string", "description": "Comma-separated tags, given to every file"}
)
FILES_BODY = multipart_batch()
# Each kind's statuses, as the summary counts them.
PHASES = {
    "pending": "pending",
    "PENDING": "pending",
    "scanning": "running",
    "PROCESSING": "running",
    "completed": "completed",
    "COMPLETED": "completed",
    "failed": "failed",
    "FAILED": "failed",
}


def _upload_body(outcome: service.BatchOutcome) -> BatchUploadEnvelope:
    batch = outcome.batch
    items = [
        BatchItem(
            index=item.index,
            fileName=item.file_name,
            status="rejected" if item.error is not None else "accepted",
            scanId=str(item.scan_id) if item.scan_id else None,
            fileId=str(item.file_id) if item.file_id else None,
            error=(
                ItemError(code=item.error.code, message=item.error.message)
                if item.error is not None
                else None
            ),
        )
        for item in outcome.items
    ]
    return BatchUploadEnvelope(
        data=BatchUpload(
            batchId=str(batch.id),
            total=batch.file_count,
            accepted=batch.accepted_count,
            rejected=batch.rejected_count,
            items=items,
        )
    )


@router.post(
    "/api/scans/batch",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 413),
    openapi_extra=MEDIA_BODY,
    response_model_exclude_none=True,
)
async def upload_media_batch(
    request: Request, user: CurrentUser, context: Context
) -> BatchUploadEnvelope:
    """Several images, videos or audio files, each its own media scan (not waited for).

    A rejected file is reported in its item; the batch is created (201) even if all are.
    """
    form = await service.receive(context, request, PayloadTooLarge)
    try:
        tags = parse_tags(form.fields.get("tags"))
    except ValidationFailed:
        form.discard()
        raise
    outcome = await run_in_threadpool(
        service.accept_media, context, user, form, tags, origin=Origin.of(request)
    )
    return _upload_body(outcome)


@router.post(
    "/api/files/batch",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401),
    openapi_extra=FILES_BODY,
    response_model_exclude_none=True,
)
async def upload_file_batch(
    request: Request, user: CurrentUser, context: Context
) -> BatchUploadEnvelope:
    """Several files, each stored and scanned as POST /api/files/upload does."""
    form = await service.receive(context, request, file_too_large)
    outcome = await run_in_threadpool(
        service.accept_files, context, user, form, origin=Origin.of(request)
    )
    return _upload_body(outcome)


@router.post(
    "/api/files/media-scans",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401),
    response_model_exclude_none=True,
)
async def scan_stored_media(
    body: StoredMediaScans, request: Request, user: CurrentUser, context: Context
) -> BatchUploadEnvelope:
    """Media scans of files already uploaded: each of the caller's files that is an image,
    a video or a recording gets one (a media batch, followed as one); any other file, or an
    id that names no file of the caller's, is a rejected item. Not part of either API
    document: the dashboard's one upload that answers both questions."""
    tags = parse_tags(body.tags)
    outcome = await run_in_threadpool(
        service.accept_stored_media,
        context,
        user,
        body.fileIds,
        tags,
        origin=Origin.of(request),
    )
    return _upload_body(outcome)


def _list_item(batch: Batch) -> BatchListItem:
    return BatchListItem(
        batchId=str(batch.id),
        kind=batch.kind,
        createdAt=iso_millis(batch.created_at),
        total=batch.file_count,
        accepted=batch.accepted_count,
        rejected=batch.rejected_count,
    )


@router.get("/api/batches", responses=errors(400, 401))
def list_batches(
    user: CurrentUser,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> BatchListEnvelope:
    """The caller's own batches, newest first."""
    rows, total, pages = service.list_batches(session, user, page, limit)
    return BatchListEnvelope(
        data=[_list_item(batch) for batch in rows],
        pagination=BatchPagination(total=total, page=page, limit=limit, pages=pages),
    )


# Absent rather than null: a field is there only for the kind (and outcome) it belongs to.
@router.get("/api/batches/{batch_id}", responses=errors(401, 404), response_model_exclude_none=True)
def get_batch(batch_id: ResourceId, user: CurrentUser, session: DbSession) -> BatchEnvelope:
    """The batch's scans with their current status and verdict, and how many are where."""
    parsed = parse_uuid(batch_id, invalid_status=404, not_found=service.BATCH_NOT_FOUND)
    view = service.get_batch(session, user, parsed)
    scans = [
        BatchScan(
            scanId=str(scan.id),
            fileName=file.filename,
            status=scan.status,
            fileId=str(file.id),
            detectionRatio=scan.detection_ratio,
        )
        for scan, file in view.malware
    ] + [
        BatchScan(
            scanId=str(scan.id),
            fileName=scan.file_name,
            status=scan.status,
            result=scan.result,
            riskScore=scan.risk_score,
        )
        for scan in view.media
    ]
    summary = BatchSummary()
    for scan_out in scans:
        phase = PHASES.get(scan_out.status, "pending")
        setattr(summary, phase, getattr(summary, phase) + 1)
    item = _list_item(view.batch)
    return BatchEnvelope(data=BatchDetail(**item.model_dump(), summary=summary, scans=scans))
