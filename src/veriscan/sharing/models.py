"""Who else may read a scan: users it was shared with, and the analyst it is assigned to.

scan_id has no foreign key (it points into one of two tables, as scan_kind says, like a
comment's); deleting a scan removes its rows through `scans.cleanup.forget_scans`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from veriscan.core.db import Base, UUIDPrimaryKey, utcnow


class ScanShare(UUIDPrimaryKey, Base):
    """A scan shared with one named user, who may then read it (not change or delete it)."""

    __tablename__ = "scan_shares"
    __table_args__ = (
        UniqueConstraint("scan_kind", "scan_id", "user_id"),
        # Covering: a listing reads the scan ids shared with one user from the index alone.
        Index("ix_scan_shares_user_scan", "user_id", "scan_kind", "scan_id"),
    )

    scan_kind: Mapped[str] = mapped_column(String(8))
    scan_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    shared_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScanAssignment(Base):
    """The analyst (or admin) a scan is assigned to: one at most per scan."""

    __tablename__ = "scan_assignments"
    __table_args__ = (
        # Covering, as for shares.
        Index("ix_scan_assignments_assignee_scan", "assignee_id", "scan_kind", "scan_id"),
    )

    scan_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    scan_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    assignee_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
