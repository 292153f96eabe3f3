from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from veriscan.core.db import Base, UUIDPrimaryKey, utcnow


class Comment(UUIDPrimaryKey, Base):
    """A note on a scan of either kind; seen by whoever may see the scan.

    scan_id has no foreign key: it points into one of two tables, as scan_kind says.
    """

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_scan", "scan_kind", "scan_id", "created_at"),)

    scan_kind: Mapped[str] = mapped_column(String(8))
    scan_id: Mapped[uuid.UUID]
    # The author's name is kept as it was: the comment outlives a deleted account.
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    author_username: Mapped[str] = mapped_column(String(50))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(default=None)
