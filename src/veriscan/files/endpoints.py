from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from veriscan.audit.service import Origin
from veriscan.core.streams import buffered, json_array
from veriscan.deps import Context, CurrentUser, DbSession, parse_uuid
from veriscan.files import service
from veriscan.files.repository import clean_search, parse_digest
from veriscan.files.schemas import FileOut, MessageResponse
from veriscan.openapi import DigestFilter, NameSearch, ResourceId, errors

# POST /api/files/upload stores a file and starts its malware scan: malware/endpoints.py.
router = APIRouter(prefix="/api/files", tags=["files"])

TOTAL_HEADER = {
    "X-Total-Count": {
        "description": "How many files the filters keep (all pages)",
        "schema": {"type": "integer"},
    }
}


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
