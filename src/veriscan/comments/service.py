"""Comments on scans: whoever may see a scan may read and add its comments; authors edit
their own; authors and admins delete."""

from __future__ import annotations

import logging
import math
import uuid

from sqlalchemy.orm import Session

from veriscan.accounts.models import Role, User
from veriscan.audit import service as audit
from veriscan.audit.service import Origin
from veriscan.comments.models import Comment
from veriscan.comments.repository import CommentRepository
from veriscan.core.db import utcnow
from veriscan.core.errors import Forbidden, NotFound
from veriscan.scans import ScanKind
from veriscan.scans.access import readable_scan

logger = logging.getLogger("veriscan.comments")

COMMENT_NOT_FOUND = "Comment not found"


def _check_visible(session: Session, viewer: User, kind: ScanKind, scan_id: uuid.UUID) -> None:
    """404 (the scans' own message) unless the viewer may see the scan."""
    readable_scan(session, viewer, kind, scan_id)


def list_comments(
    session: Session, viewer: User, kind: ScanKind, scan_id: uuid.UUID, page: int, limit: int
) -> tuple[list[Comment], int, int]:
    _check_visible(session, viewer, kind, scan_id)
    rows, total = CommentRepository(session).page_for_scan(kind.value, scan_id, page, limit)
    return rows, total, math.ceil(total / limit) if total else 0


def add_comment(
    session: Session,
    author: User,
    kind: ScanKind,
    scan_id: uuid.UUID,
    body: str,
    *,
    origin: Origin | None = None,
) -> Comment:
    _check_visible(session, author, kind, scan_id)
    comment = CommentRepository(session).add(
        Comment(
            scan_kind=kind.value,
            scan_id=scan_id,
            author_id=author.id,
            author_username=author.username,
            body=body,
        )
    )
    audit.record(
        session,
        action="comment.create",
        actor=author,
        origin=origin,
        target_type="comment",
        target_id=comment.id,
        details={"scan_kind": kind.value, "scan_id": str(scan_id)},
    )
    logger.info("comment.created comment_id=%s scan_id=%s", comment.id, scan_id)
    return comment


def _visible_comment(session: Session, viewer: User, comment_id: uuid.UUID) -> Comment:
    comment = CommentRepository(session).get(comment_id)
    if comment is None:
        raise NotFound(COMMENT_NOT_FOUND)
    try:
        _check_visible(session, viewer, ScanKind(comment.scan_kind), comment.scan_id)
    except NotFound:
        raise NotFound(COMMENT_NOT_FOUND) from None
    return comment


def edit_comment(
    session: Session,
    editor: User,
    comment_id: uuid.UUID,
    body: str,
    *,
    origin: Origin | None = None,
) -> Comment:
    comment = _visible_comment(session, editor, comment_id)
    if comment.author_id != editor.id:
        raise Forbidden("Only the author edits a comment")
    old = comment.body
    comment.body = body
    comment.edited_at = utcnow()
    audit.record(
        session,
        action="comment.edit",
        actor=editor,
        origin=origin,
        target_type="comment",
        target_id=comment.id,
        details={"scan_kind": comment.scan_kind, "scan_id": str(comment.scan_id), "old": old},
    )
    session.flush()
    return comment


def delete_comment(
    session: Session, caller: User, comment_id: uuid.UUID, *, origin: Origin | None = None
) -> None:
    comment = _visible_comment(session, caller, comment_id)
    if comment.author_id != caller.id and caller.role != Role.ADMIN.value:
        raise Forbidden("Only the author or an admin deletes a comment")
    audit.record(
        session,
        action="comment.delete",
        actor=caller,
        origin=origin,
        target_type="comment",
        target_id=comment.id,
        details={
            "scan_kind": comment.scan_kind,
            "scan_id": str(comment.scan_id),
            "author_id": str(comment.author_id) if comment.author_id else None,
            "body": comment.body,
        },
    )
    CommentRepository(session).delete(comment)
    logger.info("comment.deleted comment_id=%s by=%s", comment_id, caller.id)
