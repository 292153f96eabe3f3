"""The audit log over HTTP, for admins: read and export only (entries are never edited)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from veriscan.audit import reader
from veriscan.audit.repository import AuditFilters
from veriscan.audit.schemas import AuditEventOut, AuditList, AuditPagination
from veriscan.audit.service import Origin
from veriscan.core.dates import parse_bound
from veriscan.core.errors import ValidationFailed
from veriscan.deps import AdminUser, Context, DbSession
from veriscan.openapi import DATE_OR_DATE_TIME, errors

router = APIRouter(prefix="/api/admin/audit", tags=["admin"])


def audit_filters(
    actor: Annotated[
        str | None, Query(max_length=100, description="A username or a user id")
    ] = None,
    action: Annotated[
        str | None,
        Query(max_length=40, description='An action ("auth.login"), or a prefix ("auth.")'),
    ] = None,
    target_type: Annotated[str | None, Query(max_length=20)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    ip: Annotated[str | None, Query(max_length=45)] = None,
    date_from: Annotated[
        str | None,
        Query(
            max_length=40,
            description="ISO 8601 date-time, or a date (from its start)",
            json_schema_extra=DATE_OR_DATE_TIME,
        ),
    ] = None,
    date_to: Annotated[
        str | None,
        Query(
            max_length=40,
            description="ISO 8601 date-time, or a date (to its end)",
            json_schema_extra=DATE_OR_DATE_TIME,
        ),
    ] = None,
) -> AuditFilters:
    if any("\x00" in value for value in (actor, action, target_type, target_id, ip) if value):
        # PostgreSQL refuses NUL in text; no stored value can contain one anyway.
        raise ValidationFailed("Filters cannot contain NUL characters")
    return AuditFilters(
        actor=actor or None,
        action=action or None,
        target_type=target_type or None,
        target_id=target_id or None,
        ip=ip or None,
        date_from=parse_bound("date_from", date_from, end_of_day=False),
        date_to=parse_bound("date_to", date_to, end_of_day=True),
    )


Filters = Annotated[AuditFilters, Depends(audit_filters)]


@router.get("", responses=errors(400, 401, 403))
def list_audit(
    admin: AdminUser,
    session: DbSession,
    filters: Filters,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 50,
) -> AuditList:
    """Who did what, when and from where; newest first."""
    rows, total, pages = reader.list_events(session, filters, page=page, per_page=per_page)
    return AuditList(
        data=[AuditEventOut.model_validate(row) for row in rows],
        pagination=AuditPagination(total=total, page=page, per_page=per_page, pages=pages),
    )


@router.get(
    "/export",
    responses={
        **errors(400, 401, 403),
        200: {"description": "A CSV download, newest entry first", "content": {"text/csv": {}}},
    },
    response_class=StreamingResponse,
)
def export_audit(
    admin: AdminUser,
    context: Context,
    filters: Filters,
    request: Request,
    format_: Annotated[Literal["csv"], Query(alias="format")] = "csv",
) -> StreamingResponse:
    """The entries that match the filters as CSV, streamed; the export is itself recorded."""
    rows = reader.start_export(context, admin, filters, origin=Origin.of(request))
    return StreamingResponse(
        rows,
        media_type=reader.CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{reader.export_filename()}"'},
    )
