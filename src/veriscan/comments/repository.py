from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from veriscan.comments.models import Comment
from veriscan.scans import ScanKind
from veriscan.scans.cleanup import register_forget


class CommentRepository:
    """Comments by scan; whether the caller may see that scan is the service's check."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, comment: Comment) -> Comment:
        self.session.add(comment)
        self.session.flush()
        return comment

    def get(self, comment_id: uuid.UUID) -> Comment | None:
        return self.session.get(Comment, comment_id)

    def delete(self, comment: Comment) -> None:
        self.session.delete(comment)
        self.session.flush()

    def page_for_scan(
        self, scan_kind: str, scan_id: uuid.UUID, page: int, limit: int
    ) -> tuple[list[Comment], int]:
        """The scan's comments, oldest first."""
        query = select(Comment).where(Comment.scan_kind == scan_kind, Comment.scan_id == scan_id)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self.session.scalars(
            query.order_by(Comment.created_at, Comment.id).offset((page - 1) * limit).limit(limit)
        )
        return list(rows), total


def forget(session: Session, kind: ScanKind, scan_ids: list[uuid.UUID]) -> None:
    """Delete the comments on deleted scans (in the caller's transaction)."""
    session.execute(
        delete(Comment).where(Comment.scan_kind == kind.value, Comment.scan_id.in_(scan_ids))
    )


register_forget("comments", forget)
