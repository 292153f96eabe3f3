from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, status

from veriscan.accounts.models import User
from veriscan.audit.service import Origin
from veriscan.cases import reading, service
from veriscan.cases.models import CaseMember, CaseNote, CasePriority, CaseStatus
from veriscan.cases.reading import CaseView, ScanItem
from veriscan.cases.repository import CaseFilters, CaseRow
from veriscan.cases.schemas import (
    CaseCreate,
    CaseDetail,
    CaseEnvelope,
    CaseListEnvelope,
    CaseScanEnvelope,
    CaseScanOut,
    CaseSummary,
    CaseUpdate,
    MemberAdd,
    MemberEnvelope,
    MemberOut,
    MessageEnvelope,
    NoteEnvelope,
    NoteIn,
    NoteListEnvelope,
    NoteOut,
    OwnerOut,
    Pagination,
    ScanAdd,
    TimelineEntry,
    TimelineEnvelope,
    UserRef,
)
from veriscan.core.dates import iso_millis
from veriscan.deps import Context, CurrentUser, DbSession, parse_uuid
from veriscan.notifications import service as notifications
from veriscan.openapi import ResourceId, errors
from veriscan.scans import ScanKind

router = APIRouter(prefix="/api/cases", tags=["cases"])

Page = Annotated[int, Query(ge=1, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=100)]
TimelineLimit = Annotated[int, Query(ge=1, le=200)]
Search = Annotated[str | None, Query(max_length=200)]


def _case_id(value: str) -> uuid.UUID:
    return parse_uuid(value, invalid_status=404, not_found=reading.CASE_NOT_FOUND)


def _ref(user: User | None) -> UserRef | None:
    return UserRef(id=str(user.id), username=user.username) if user is not None else None


def _summary(row: CaseRow) -> CaseSummary:
    case, owner = row.case, row.owner
    return CaseSummary(
        id=str(case.id),
        title=case.title,
        status=CaseStatus(case.status),
        priority=CasePriority(case.priority),
        owner=OwnerOut(id=str(owner.id), username=owner.username, name=owner.name),
        scanCount=row.scan_count,
        memberCount=row.member_count,
        createdAt=iso_millis(case.created_at),
        updatedAt=iso_millis(case.updated_at),
        closedAt=iso_millis(case.closed_at) if case.closed_at else None,
    )


def _member(member: CaseMember, user: User) -> MemberOut:
    return MemberOut(
        id=str(user.id),
        username=user.username,
        name=user.name,
        role=user.role,
        addedAt=iso_millis(member.added_at),
    )


def _scan(item: ScanItem) -> CaseScanOut:
    return CaseScanOut(
        scanKind=ScanKind(item.kind).value,
        scanId=str(item.scan_id),
        fileName=item.file_name,
        status=item.status,
        verdict=item.verdict,
        detectionRatio=item.detection_ratio,
        addedAt=iso_millis(item.added_at),
        addedBy=_ref(item.added_by),
    )


def _detail(found: CaseView) -> CaseDetail:
    return CaseDetail(
        **_summary(found.row).model_dump(),
        description=found.row.case.description,
        createdBy=_ref(found.created_by),
        members=[_member(member, user) for member, user in found.members],
        scans=[_scan(item) for item in found.scans],
        hiddenScans=found.hidden_scans,
    )


def _note(note: CaseNote) -> NoteOut:
    return NoteOut(
        id=str(note.id),
        body=note.body,
        authorId=str(note.author_id) if note.author_id else None,
        authorUsername=note.author_username,
        createdAt=iso_millis(note.created_at),
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(400, 401))
def create_case(
    body: CaseCreate,
    request: Request,
    background: BackgroundTasks,
    user: CurrentUser,
    session: DbSession,
    context: Context,
) -> CaseEnvelope:
    """Open a case. The owner is the caller unless `ownerId` names an active analyst or
    admin; the creator, if not the owner, becomes a member."""
    found, outcome = service.create_case(session, context, user, body, origin=Origin.of(request))
    notifications.deliver_after_response(background, context, outcome.deliveries)
    return CaseEnvelope(data=_detail(found))


@router.get("", responses=errors(400, 401))
def list_cases(
    user: CurrentUser,
    session: DbSession,
    status: CaseStatus | None = None,
    priority: CasePriority | None = None,
    ownerId: uuid.UUID | None = None,
    search: Search = None,
    page: Page = 1,
    limit: Limit = 20,
) -> CaseListEnvelope:
    """The cases the caller reads (owner, member; admins all), most recently updated first;
    `search` matches the title or description, case-insensitively."""
    filters = CaseFilters(
        status=status.value if status else None,
        priority=priority.value if priority else None,
        owner_id=ownerId,
        search=search or None,
        page=page,
        limit=limit,
    )
    rows, total, pages = reading.list_cases(session, user, filters)
    return CaseListEnvelope(
        data=[_summary(row) for row in rows],
        pagination=Pagination(total=total, page=page, limit=limit, pages=pages),
    )


@router.get("/{case_id}", responses=errors(401, 404))
def get_case(case_id: ResourceId, user: CurrentUser, session: DbSession) -> CaseEnvelope:
    """A case with its members and scans (404 for whoever does not read it)."""
    return CaseEnvelope(data=_detail(reading.view(session, user, _case_id(case_id))))


@router.patch("/{case_id}", responses=errors(400, 401, 403, 404))
def update_case(
    case_id: ResourceId,
    body: CaseUpdate,
    request: Request,
    background: BackgroundTasks,
    user: CurrentUser,
    session: DbSession,
    context: Context,
) -> CaseEnvelope:
    """Change a case: its readers change title, description, status and priority; only
    its owner or an admin changes `ownerId` (the previous owner stays on as a member)."""
    found, outcome = service.update_case(
        session, context, user, _case_id(case_id), body, origin=Origin.of(request)
    )
    notifications.deliver_after_response(background, context, outcome.deliveries)
    return CaseEnvelope(data=_detail(found))


@router.delete("/{case_id}", responses=errors(401, 403, 404))
def delete_case(
    case_id: ResourceId, request: Request, user: CurrentUser, session: DbSession
) -> MessageEnvelope:
    """Delete a case (its owner or an admin); its scans are kept."""
    service.delete_case(session, user, _case_id(case_id), origin=Origin.of(request))
    return MessageEnvelope(message="Case deleted successfully")


@router.post(
    "/{case_id}/scans",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 403, 404, 409),
)
def add_scan(
    case_id: ResourceId, body: ScanAdd, request: Request, user: CurrentUser, session: DbSession
) -> CaseScanEnvelope:
    """Add a scan the caller manages (its owner; for media scans, analysts and admins too)
    to a case the caller reads. The case's readers may then read the scan."""
    item = service.add_scan(
        session, user, _case_id(case_id), body.scanKind, body.scanId, origin=Origin.of(request)
    )
    return CaseScanEnvelope(data=_scan(item))


@router.delete("/{case_id}/scans/{scan_kind}/{scan_id}", responses=errors(400, 401, 404))
def remove_scan(
    case_id: ResourceId,
    scan_kind: Annotated[ScanKind, Path()],
    scan_id: ResourceId,
    request: Request,
    user: CurrentUser,
    session: DbSession,
) -> MessageEnvelope:
    """Take a scan out of a case (any of the case's readers)."""
    service.remove_scan(
        session,
        user,
        _case_id(case_id),
        scan_kind,
        parse_uuid(scan_id, invalid_status=404, not_found="Scan not found in this case"),
        origin=Origin.of(request),
    )
    return MessageEnvelope(message="Scan removed from the case")


@router.post(
    "/{case_id}/members",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 403, 404, 409),
)
def add_member(
    case_id: ResourceId,
    body: MemberAdd,
    request: Request,
    background: BackgroundTasks,
    user: CurrentUser,
    session: DbSession,
    context: Context,
) -> MemberEnvelope:
    """Add an active user to a case, by `userId` or `username` (the owner or an admin)."""
    member, added, outcome = service.add_member(
        session,
        context,
        user,
        _case_id(case_id),
        user_id=body.userId,
        username=body.username,
        origin=Origin.of(request),
    )
    notifications.deliver_after_response(background, context, outcome.deliveries)
    return MemberEnvelope(data=_member(member, added))


@router.delete("/{case_id}/members/{user_id}", responses=errors(401, 403, 404))
def remove_member(
    case_id: ResourceId,
    user_id: ResourceId,
    request: Request,
    user: CurrentUser,
    session: DbSession,
) -> MessageEnvelope:
    """Remove a member: the owner or an admin, or a member leaving the case."""
    service.remove_member(
        session,
        user,
        _case_id(case_id),
        parse_uuid(user_id, invalid_status=404, not_found=service.MEMBER_NOT_FOUND),
        origin=Origin.of(request),
    )
    return MessageEnvelope(message="Member removed successfully")


@router.get("/{case_id}/notes", responses=errors(400, 401, 404))
def list_notes(
    case_id: ResourceId,
    user: CurrentUser,
    session: DbSession,
    page: Page = 1,
    limit: Limit = 20,
) -> NoteListEnvelope:
    """A case's notes, oldest first."""
    rows, total, pages = reading.list_notes(session, user, _case_id(case_id), page, limit)
    return NoteListEnvelope(
        data=[_note(note) for note in rows],
        pagination=Pagination(total=total, page=page, limit=limit, pages=pages),
    )


@router.post(
    "/{case_id}/notes", status_code=status.HTTP_201_CREATED, responses=errors(400, 401, 404)
)
def add_note(
    case_id: ResourceId, body: NoteIn, request: Request, user: CurrentUser, session: DbSession
) -> NoteEnvelope:
    """Add a note (any of the case's readers). Notes are never edited or deleted: they
    are the investigation's record."""
    note = service.add_note(session, user, _case_id(case_id), body.body, origin=Origin.of(request))
    return NoteEnvelope(data=_note(note))


@router.get("/{case_id}/timeline", responses=errors(400, 401, 404))
def get_timeline(
    case_id: ResourceId,
    user: CurrentUser,
    session: DbSession,
    page: Page = 1,
    limit: TimelineLimit = 100,
) -> TimelineEnvelope:
    """What happened to the case and its scans, oldest first: the case's own events plus
    each scan's upload and outcome."""
    items, total, pages = reading.timeline(session, user, _case_id(case_id), page, limit)
    return TimelineEnvelope(
        data=[
            TimelineEntry(
                at=iso_millis(item.at),
                action=item.action,
                actor=UserRef(id=str(item.actor[0]), username=item.actor[1])
                if item.actor
                else None,
                details=item.details,
            )
            for item in items
        ],
        pagination=Pagination(total=total, page=page, limit=limit, pages=pages),
    )
