"""Sharing a scan with named users and assigning it to an analyst (issue 7 §2).

Both are grants: they let a user read a scan (and comment on it) that they could not
read otherwise; they never let them change or delete it. Managing them is for those who
may manage the scan (scans.access.can_manage). Each change is audited, and the user
it concerns is told in-app (and by e-mail when their preferences ask for all).
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from veriscan.accounts.models import User
from veriscan.audit import service as audit
from veriscan.audit.service import Origin
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from veriscan.notifications import service as notifications
from veriscan.notifications.models import Severity
from veriscan.scans import ScanKind, ScanRef, access
from veriscan.scans.access import readable_scan
from veriscan.sharing.models import ScanAssignment, ScanShare
from veriscan.sharing.schemas import UserChoice

logger = logging.getLogger("veriscan.sharing")

USER_NOT_FOUND = "User not found"
_KIND_WORDS = {ScanKind.MALWARE: "malware scan", ScanKind.MEDIA: "media analysis"}


def _managed(session: Session, viewer: User, kind: ScanKind, scan_id: uuid.UUID) -> ScanRef:
    scan = readable_scan(session, viewer, kind, scan_id)
    if not access.can_manage(viewer, kind, scan.owner_id):
        raise Forbidden("Only the scan's owner (and for media scans analysts and admins) does this")
    return scan


def find_user(session: Session, who: UserChoice) -> User:
    """An active user by id or username (exactly one given, checked by the schema)."""
    if who.userId is not None:
        user = session.get(User, who.userId)
    else:
        user = session.scalar(select(User).where(User.username == who.username))
    if user is None:
        raise NotFound(USER_NOT_FOUND)
    if not user.is_active:
        raise ValidationFailed("That user is deactivated")
    return user


# Shares


def list_shares(
    session: Session, viewer: User, kind: ScanKind, scan_id: uuid.UUID
) -> list[tuple[ScanShare, User]]:
    """Who else reads the scan through a share (readers of the scan may see the list)."""
    readable_scan(session, viewer, kind, scan_id)
    rows = session.execute(
        select(ScanShare, User)
        .join(User, User.id == ScanShare.user_id)
        .where(ScanShare.scan_kind == kind.value, ScanShare.scan_id == scan_id)
        .order_by(ScanShare.created_at, User.username)
    )
    return [(row[0], row[1]) for row in rows]


def share(
    session: Session,
    context: AppContext,
    viewer: User,
    kind: ScanKind,
    scan_id: uuid.UUID,
    who: UserChoice,
    *,
    origin: Origin | None = None,
) -> tuple[ScanShare, User, notifications.Delivery | None]:
    scan = _managed(session, viewer, kind, scan_id)
    recipient = find_user(session, who)
    if recipient.id == scan.owner_id:
        raise ValidationFailed("The scan's owner already reads it")
    existing = session.scalar(
        select(ScanShare).where(
            ScanShare.scan_kind == kind.value,
            ScanShare.scan_id == scan_id,
            ScanShare.user_id == recipient.id,
        )
    )
    if existing is not None:
        raise Conflict("The scan is already shared with that user")
    row = ScanShare(
        scan_kind=kind.value, scan_id=scan_id, user_id=recipient.id, shared_by=viewer.id
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        action="scan.share",
        actor=viewer,
        origin=origin,
        target_type=f"{kind.value}_scan",
        target_id=scan_id,
        details={"user_id": str(recipient.id), "username": recipient.username},
    )
    logger.info("sharing.shared kind=%s scan_id=%s with=%s", kind.value, scan_id, recipient.id)
    delivery = _tell(
        session,
        context,
        recipient,
        viewer,
        scan,
        kind="scan.shared",
        title=f"{viewer.username} shared a {_KIND_WORDS[kind]} with you",
    )
    return row, recipient, delivery


def unshare(
    session: Session,
    viewer: User,
    kind: ScanKind,
    scan_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    origin: Origin | None = None,
) -> None:
    """Remove a share: by those who manage the scan, or by its recipient (leaving it)."""
    scan = readable_scan(session, viewer, kind, scan_id)
    if viewer.id != user_id and not access.can_manage(viewer, kind, scan.owner_id):
        raise Forbidden("Only the scan's owner or the user it is shared with removes a share")
    row = session.scalar(
        select(ScanShare).where(
            ScanShare.scan_kind == kind.value,
            ScanShare.scan_id == scan_id,
            ScanShare.user_id == user_id,
        )
    )
    if row is None:
        raise NotFound("The scan is not shared with that user")
    session.delete(row)
    audit.record(
        session,
        action="scan.unshare",
        actor=viewer,
        origin=origin,
        target_type=f"{kind.value}_scan",
        target_id=scan_id,
        details={"user_id": str(user_id)},
    )
    session.flush()


# Assignment


def assignment(
    session: Session, viewer: User, kind: ScanKind, scan_id: uuid.UUID
) -> tuple[ScanAssignment, User] | None:
    readable_scan(session, viewer, kind, scan_id)
    row = session.execute(
        select(ScanAssignment, User)
        .join(User, User.id == ScanAssignment.assignee_id)
        .where(ScanAssignment.scan_kind == kind.value, ScanAssignment.scan_id == scan_id)
    ).first()
    return (row[0], row[1]) if row else None


def assign(
    session: Session,
    context: AppContext,
    viewer: User,
    kind: ScanKind,
    scan_id: uuid.UUID,
    who: UserChoice,
    *,
    origin: Origin | None = None,
) -> tuple[ScanAssignment, User, notifications.Delivery | None]:
    """Assign the scan to an active analyst or admin (replacing any assignee)."""
    scan = readable_scan(session, viewer, kind, scan_id)
    current = session.get(ScanAssignment, (kind.value, scan_id))
    is_assignee = current is not None and current.assignee_id == viewer.id
    if not (access.can_manage(viewer, kind, scan.owner_id) or is_assignee):
        raise Forbidden(
            "Only the scan's owner, its assignee (and for media scans analysts "
            "and admins) assign it"
        )
    assignee = find_user(session, who)
    if not access.is_staff(assignee):
        raise ValidationFailed("A scan is assigned to an analyst or an admin")
    previous = current.assignee_id if current is not None else None
    if current is None:
        current = ScanAssignment(scan_kind=kind.value, scan_id=scan_id, assignee_id=assignee.id)
        session.add(current)
    elif previous == assignee.id:
        return current, assignee, None
    current.assignee_id = assignee.id
    current.assigned_by = viewer.id
    current.assigned_at = utcnow()
    session.flush()
    audit.record(
        session,
        action="scan.assign",
        actor=viewer,
        origin=origin,
        target_type=f"{kind.value}_scan",
        target_id=scan_id,
        details={
            "assignee_id": str(assignee.id),
            "username": assignee.username,
            "previous_id": str(previous) if previous else None,
        },
    )
    logger.info("sharing.assigned kind=%s scan_id=%s to=%s", kind.value, scan_id, assignee.id)
    delivery = _tell(
        session,
        context,
        assignee,
        viewer,
        scan,
        kind="scan.assigned",
        title=f"{viewer.username} assigned a {_KIND_WORDS[kind]} to you",
    )
    return current, assignee, delivery


def unassign(
    session: Session,
    viewer: User,
    kind: ScanKind,
    scan_id: uuid.UUID,
    *,
    origin: Origin | None = None,
) -> None:
    scan = readable_scan(session, viewer, kind, scan_id)
    current = session.get(ScanAssignment, (kind.value, scan_id))
    if current is None:
        raise NotFound("The scan is not assigned")
    if current.assignee_id != viewer.id and not access.can_manage(viewer, kind, scan.owner_id):
        raise Forbidden("Only the scan's owner or its assignee removes the assignment")
    session.delete(current)
    audit.record(
        session,
        action="scan.unassign",
        actor=viewer,
        origin=origin,
        target_type=f"{kind.value}_scan",
        target_id=scan_id,
        details={"assignee_id": str(current.assignee_id)},
    )
    session.flush()


def _tell(
    session: Session,
    context: AppContext,
    recipient: User,
    actor: User,
    scan: ScanRef,
    *,
    kind: str,
    title: str,
) -> notifications.Delivery | None:
    if recipient.id == actor.id:
        return None
    return notifications.notify_scan_finished(
        session,
        context,
        notifications.ScanFinished(
            user_id=recipient.id,
            scan_kind=scan.kind.value,
            scan_id=scan.id,
            kind=kind,
            severity=Severity.INFO,
            title=title,
            message=scan.file_name,
        ),
    )
