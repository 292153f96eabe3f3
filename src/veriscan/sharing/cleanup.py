"""What goes with a deleted scan: rows that point at it without a foreign key."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.orm import Session

from veriscan.cases.models import CaseScan
from veriscan.comments.models import Comment
from veriscan.scans import ScanKind
from veriscan.sharing.models import ScanAssignment, ScanShare


def forget_scans(session: Session, kind: ScanKind, scan_ids: Sequence[uuid.UUID]) -> None:
    """Delete the scans' shares, assignment, case entries and comments (in the caller's
    transaction, with the scans themselves)."""
    ids = list(scan_ids)
    if not ids:
        return
    session.execute(
        delete(ScanShare).where(ScanShare.scan_kind == kind.value, ScanShare.scan_id.in_(ids))
    )
    session.execute(
        delete(ScanAssignment).where(
            ScanAssignment.scan_kind == kind.value, ScanAssignment.scan_id.in_(ids)
        )
    )
    session.execute(
        delete(CaseScan).where(CaseScan.scan_kind == kind.value, CaseScan.scan_id.in_(ids))
    )
    session.execute(
        delete(Comment).where(Comment.scan_kind == kind.value, Comment.scan_id.in_(ids))
    )
