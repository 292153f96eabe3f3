"""Sharing and assignment of both kinds of scan: /api/scans/{id}/... (media) and
/api/scan/{id}/... (malware), the same operations and bodies."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request, status

from veriscan.accounts.models import User
from veriscan.audit.service import Origin
from veriscan.core.dates import iso_millis
from veriscan.deps import Context, CurrentUser, DbSession, parse_uuid
from veriscan.notifications import service as notifications
from veriscan.openapi import ResourceId, errors
from veriscan.scans import ScanKind
from veriscan.sharing import service
from veriscan.sharing.models import ScanAssignment, ScanShare
from veriscan.sharing.schemas import (
    AssignmentEnvelope,
    AssignmentOut,
    DoneEnvelope,
    ShareEnvelope,
    ShareListEnvelope,
    ShareOut,
    UserChoice,
    UserOut,
)

router = APIRouter(tags=["sharing"])

PREFIXES = {ScanKind.MEDIA: "/api/scans", ScanKind.MALWARE: "/api/scan"}


def _user(user: User) -> UserOut:
    return UserOut(id=str(user.id), username=user.username, name=user.name, role=user.role)


def _share(row: ScanShare, user: User) -> ShareOut:
    return ShareOut(
        scanKind=ScanKind(row.scan_kind).value,
        scanId=str(row.scan_id),
        user=_user(user),
        sharedBy=str(row.shared_by) if row.shared_by else None,
        createdAt=iso_millis(row.created_at),
    )


def _assignment(row: ScanAssignment, user: User) -> AssignmentOut:
    return AssignmentOut(
        scanKind=ScanKind(row.scan_kind).value,
        scanId=str(row.scan_id),
        assignee=_user(user),
        assignedBy=str(row.assigned_by) if row.assigned_by else None,
        assignedAt=iso_millis(row.assigned_at),
    )


def _scan_id(value: str) -> uuid.UUID:
    return parse_uuid(value, invalid_status=404, not_found="Scan not found")


def _user_id(value: str) -> uuid.UUID:
    return parse_uuid(value, invalid_status=404, not_found=service.USER_NOT_FOUND)


def _routes(kind: ScanKind) -> None:
    prefix = PREFIXES[kind]
    noun = "media scan" if kind is ScanKind.MEDIA else "malware scan"
    managers = "its owner, analysts and admins" if kind is ScanKind.MEDIA else "its owner"

    @router.get(
        f"{prefix}/{{scan_id}}/shares",
        responses=errors(400, 401, 404),
        operation_id=f"list_{kind.value}_shares",
        summary=f"Users a {noun} is shared with",
    )
    def list_shares(
        scan_id: ResourceId, user: CurrentUser, session: DbSession
    ) -> ShareListEnvelope:
        rows = service.list_shares(session, user, kind, _scan_id(scan_id))
        return ShareListEnvelope(data=[_share(row, shared) for row, shared in rows])

    list_shares.__doc__ = f"Who else reads the {noun} through a share (for whoever reads it)."

    @router.post(
        f"{prefix}/{{scan_id}}/shares",
        status_code=status.HTTP_201_CREATED,
        responses=errors(400, 401, 403, 404, 409),
        operation_id=f"share_{kind.value}_scan",
        summary=f"Share a {noun} with a named user",
    )
    def share(
        scan_id: ResourceId,
        body: UserChoice,
        request: Request,
        background: BackgroundTasks,
        user: CurrentUser,
        session: DbSession,
        context: Context,
    ) -> ShareEnvelope:
        row, recipient, delivery = service.share(
            session, context, user, kind, _scan_id(scan_id), body, origin=Origin.of(request)
        )
        notifications.deliver_after_response(background, context, [delivery])
        return ShareEnvelope(data=_share(row, recipient))

    share.__doc__ = (
        f"By {managers}. The user then reads the scan, finds it in their listing "
        "(scope=shared) and may comment on it; they cannot change or delete it. They are "
        "told in-app."
    )

    @router.delete(
        f"{prefix}/{{scan_id}}/shares/{{user_id}}",
        responses=errors(400, 401, 403, 404),
        operation_id=f"unshare_{kind.value}_scan",
        summary=f"Stop sharing a {noun} with a user",
    )
    def unshare(
        scan_id: ResourceId,
        user_id: ResourceId,
        request: Request,
        user: CurrentUser,
        session: DbSession,
    ) -> DoneEnvelope:
        service.unshare(
            session, user, kind, _scan_id(scan_id), _user_id(user_id), origin=Origin.of(request)
        )
        return DoneEnvelope(message="Share removed")

    unshare.__doc__ = f"By {managers}, or by the user it is shared with (leaving it)."

    @router.get(
        f"{prefix}/{{scan_id}}/assignment",
        responses=errors(400, 401, 404),
        operation_id=f"get_{kind.value}_assignment",
        summary=f"The analyst a {noun} is assigned to",
    )
    def get_assignment(
        scan_id: ResourceId, user: CurrentUser, session: DbSession
    ) -> AssignmentEnvelope:
        found = service.assignment(session, user, kind, _scan_id(scan_id))
        return AssignmentEnvelope(data=_assignment(*found) if found else None)

    get_assignment.__doc__ = "`data` is null when the scan is not assigned."

    @router.put(
        f"{prefix}/{{scan_id}}/assignment",
        responses=errors(400, 401, 403, 404),
        operation_id=f"assign_{kind.value}_scan",
        summary=f"Assign a {noun} to an analyst",
    )
    def assign(
        scan_id: ResourceId,
        body: UserChoice,
        request: Request,
        background: BackgroundTasks,
        user: CurrentUser,
        session: DbSession,
        context: Context,
    ) -> AssignmentEnvelope:
        row, assignee, delivery = service.assign(
            session, context, user, kind, _scan_id(scan_id), body, origin=Origin.of(request)
        )
        notifications.deliver_after_response(background, context, [delivery])
        return AssignmentEnvelope(data=_assignment(row, assignee))

    assign.__doc__ = (
        f"By {managers} or the current assignee, to an active analyst or admin (replacing "
        "any assignee). The assignee reads the scan, finds it with scope=assigned and is "
        "told in-app."
    )

    @router.delete(
        f"{prefix}/{{scan_id}}/assignment",
        responses=errors(400, 401, 403, 404),
        operation_id=f"unassign_{kind.value}_scan",
        summary=f"Remove a {noun}'s assignee",
    )
    def unassign(
        scan_id: ResourceId, request: Request, user: CurrentUser, session: DbSession
    ) -> DoneEnvelope:
        service.unassign(session, user, kind, _scan_id(scan_id), origin=Origin.of(request))
        return DoneEnvelope(message="Assignment removed")

    unassign.__doc__ = f"By {managers} or the assignee."


for _kind in (ScanKind.MEDIA, ScanKind.MALWARE):
    _routes(_kind)
