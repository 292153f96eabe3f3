from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from veriscan.audit.service import Origin
from veriscan.core.streams import buffered, json_array
from veriscan.deps import Context, CurrentUser, DbSession, parse_uuid
from veriscan.files import service
from veriscan.files.repository import clean_search, parse_digest
from veriscan.files.schemas import FileOut, MessageResponse, UploadedFile, UploadScan
from veriscan.malware import service as malware_service
from veriscan.openapi import DigestFilter, NameSearch, ResourceId, errors, multipart_upload

router = APIRouter(prefix="/api/files", tags=["files"])

UPLOAD_BODY = multipart_upload()
TOTAL_HEADER = {
    "X-Total-Count": {
        "description": "How many files the filters keep (all pages)",
        "schema": {"type": "integer"},
    }
}


@router.post(
    "/upload",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401),
    openapi_extra=UPLOAD_BODY,
)
async def upload_file(request: Request, user: CurrentUser, context: Context) -> UploadedFile:
    """Stream a file into storage (md5, sha1 and sha256 computed on the way), then scan it."""
    origin = Origin.of(request)
    received, _ = await service.receive_upload(context, request)
    file, scan = await run_in_threadpool(
        malware_service.store_and_scan, context, user, received, origin=origin
    )
    block = (
        UploadScan(scan_id=scan.id, status=scan.status, message="Scan initiated automatically")
        if scan is not None
        else UploadScan(scan_id=None, status="not_started", message=malware_service.NO_ENGINE)
    )
    return UploadedFile(**FileOut.model_validate(file).model_dump(), scan=block)


@router.get(
    "/",
    responses={**errors(400, 401), 200: {"headers": TOTAL_HEADER}},
    response_model=list[FileOut],
    response_class=StreamingResponse,
)
@router.get("", include_in_schema=False, response_class=StreamingResponse)
def list_files(
    user: CurrentUser,
    session: DbSession,
    context: Context,
    search: NameSearch = None,
    hash: DigestFilter = None,
    page: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="A page of the list (additive)")
    ] = None,
    per_page: Annotated[
        int | None, Query(ge=1, le=1000, description="Files per page (additive; default 20)")
    ] = None,
) -> Response:
    """The caller's files, newest first: the whole array as the document says, streamed
    (memory does not grow with the count), or one page of it with `page` and `per_page`.
    The number of files the filters keep is in `X-Total-Count` either way."""
    listing = service.FileListing(
        search=clean_search(search),
        digest=parse_digest(hash),
        page=page or (1 if per_page else None),
        per_page=per_page or (service.DEFAULT_PER_PAGE if page else None),
    )
    if listing.page is not None:
        files, total = service.page_of_files(session, user, listing)
        return JSONResponse(files, headers={"X-Total-Count": str(total)})
    total = service.count_files(session, user, listing)
    return StreamingResponse(
        buffered(json_array(service.stream_files(context, user, listing))),
        media_type="application/json",
        headers={"X-Total-Count": str(total)},
    )


@router.get("/{file_id}", responses=errors(401, 404))
def get_file(file_id: ResourceId, user: CurrentUser, session: DbSession) -> FileOut:
    parsed = parse_uuid(file_id, invalid_status=404, not_found=service.FILE_NOT_FOUND)
    return FileOut.model_validate(service.get_file(session, user, parsed))


@router.delete("/{file_id}", responses=errors(400, 401, 404))
async def delete_file(
    file_id: ResourceId, request: Request, user: CurrentUser, context: Context
) -> MessageResponse:
    parsed = parse_uuid(file_id, invalid_status=400, not_found=service.FILE_NOT_FOUND)
    await run_in_threadpool(service.delete_file, context, user, parsed, origin=Origin.of(request))
    return MessageResponse(message="File deleted successfully")
