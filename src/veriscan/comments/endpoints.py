from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from veriscan.audit.service import Origin
from veriscan.comments import service
from veriscan.comments.models import Comment
from veriscan.comments.schemas import (
    CommentDeletedEnvelope,
    CommentEnvelope,
    CommentIn,
    CommentListEnvelope,
    CommentOut,
    CommentPagination,
)
from veriscan.core.dates import iso_millis
from veriscan.deps import CurrentUser, DbSession, parse_uuid
from veriscan.openapi import ResourceId, errors
from veriscan.scans import ScanKind

router = APIRouter(tags=["comments"])

Page = Annotated[int, Query(ge=1, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=100)]


def _out(comment: Comment) -> CommentOut:
    return CommentOut(
        id=str(comment.id),
        scanKind=ScanKind(comment.scan_kind).value,
        scanId=str(comment.scan_id),
        authorId=str(comment.author_id) if comment.author_id else None,
        authorUsername=comment.author_username,
        body=comment.body,
        createdAt=iso_millis(comment.created_at),
        editedAt=iso_millis(comment.edited_at) if comment.edited_at else None,
    )


def _scan_id(value: str) -> uuid.UUID:
    return parse_uuid(value, invalid_status=404, not_found="Scan not found")


def _comment_id(value: str) -> uuid.UUID:
    return parse_uuid(value, invalid_status=404, not_found=service.COMMENT_NOT_FOUND)


def _listing(
    session: DbSession, user: CurrentUser, kind: ScanKind, scan_id: str, page: int, limit: int
) -> CommentListEnvelope:
    rows, total, pages = service.list_comments(session, user, kind, _scan_id(scan_id), page, limit)
    return CommentListEnvelope(
        data=[_out(comment) for comment in rows],
        pagination=CommentPagination(total=total, page=page, limit=limit, pages=pages),
    )


@router.get("/api/scans/{scan_id}/comments", responses=errors(400, 401, 404))
def list_media_comments(
    scan_id: ResourceId,
    user: CurrentUser,
    session: DbSession,
    page: Page = 1,
    limit: Limit = 20,
) -> CommentListEnvelope:
    """A media scan's comments, oldest first (for whoever may see the scan)."""
    return _listing(session, user, ScanKind.MEDIA, scan_id, page, limit)


@router.post(
    "/api/scans/{scan_id}/comments",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 404),
)
def add_media_comment(
    scan_id: ResourceId, body: CommentIn, request: Request, user: CurrentUser, session: DbSession
) -> CommentEnvelope:
    """A comment on a media scan, by whoever may see it (trimmed, 1-5000 characters)."""
    comment = service.add_comment(
        session, user, ScanKind.MEDIA, _scan_id(scan_id), body.body, origin=Origin.of(request)
    )
    return CommentEnvelope(data=_out(comment))


@router.get("/api/scan/{scan_id}/comments", responses=errors(400, 401, 404))
def list_malware_comments(
    scan_id: ResourceId,
    user: CurrentUser,
    session: DbSession,
    page: Page = 1,
    limit: Limit = 20,
) -> CommentListEnvelope:
    """A malware scan's comments, oldest first (its owner's only, as the scan is)."""
    return _listing(session, user, ScanKind.MALWARE, scan_id, page, limit)


@router.post(
    "/api/scan/{scan_id}/comments",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 404),
)
def add_malware_comment(
    scan_id: ResourceId, body: CommentIn, request: Request, user: CurrentUser, session: DbSession
) -> CommentEnvelope:
    """A comment on one of the caller's own malware scans (trimmed, 1-5000 characters)."""
    comment = service.add_comment(
        session, user, ScanKind.MALWARE, _scan_id(scan_id), body.body, origin=Origin.of(request)
    )
    return CommentEnvelope(data=_out(comment))


@router.patch("/api/comments/{comment_id}", responses=errors(400, 401, 403, 404))
def edit_comment(
    comment_id: ResourceId,
    body: CommentIn,
    request: Request,
    user: CurrentUser,
    session: DbSession,
) -> CommentEnvelope:
    """New text for a comment: its author only (403 for others who see the scan; 404 for
    those who do not)."""
    comment = service.edit_comment(
        session, user, _comment_id(comment_id), body.body, origin=Origin.of(request)
    )
    return CommentEnvelope(data=_out(comment))


@router.delete("/api/comments/{comment_id}", responses=errors(401, 403, 404))
def delete_comment(
    comment_id: ResourceId, request: Request, user: CurrentUser, session: DbSession
) -> CommentDeletedEnvelope:
    """Delete a comment: its author or an admin (403 for others who see the scan; 404 for
    those who do not)."""
    service.delete_comment(session, user, _comment_id(comment_id), origin=Origin.of(request))
    return CommentDeletedEnvelope(message="Comment deleted successfully")
