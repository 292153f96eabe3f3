"""Cases: investigations that group scans of both kinds.

A case is read by its owner, its members and admins (`cases.access.readable_cases`);
anyone else is told it does not exist. Readers edit its title, description, status and
priority, add notes and the scans they manage, and remove scans; the owner or an admin
changes the owner, adds and removes members and deletes the case. Every change writes a
line of the case's timeline and an audit entry, in the request's transaction.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from veriscan.accounts.models import Role, User
from veriscan.audit import service as audit
from veriscan.audit.service import Origin
from veriscan.cases.models import Case, CaseEvent, CaseMember, CaseNote, CaseScan, CaseStatus
from veriscan.cases.reading import CaseView, ScanItem, readable_case, scan_items, view
from veriscan.cases.repository import CaseRepository
from veriscan.cases.schemas import CaseCreate, CaseUpdate
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from veriscan.notifications import service as notifications
from veriscan.notifications.models import Severity
from veriscan.notifications.service import Delivery, ScanFinished
from veriscan.scans import ScanKind
from veriscan.scans.access import STAFF, can_manage, readable_scan

logger = logging.getLogger("veriscan.cases")

MEMBER_NOT_FOUND = "Member not found"
USER_NOT_FOUND = "User not found"


@dataclass
class Outcome:
    """What a change leaves to do after the commit: notifications to deliver."""

    deliveries: list[Delivery] = field(default_factory=list)


def _is_admin(user: User) -> bool:
    return user.role == Role.ADMIN.value


def _ref(user: User) -> dict[str, str]:
    return {"id": str(user.id), "username": user.username}


def _now(session: Session) -> datetime:
    """The time of a change: strictly after the previous one in this transaction, so that
    the events of one request keep their order on the timeline."""
    now = utcnow()
    last: datetime | None = session.info.get("cases.clock")
    if last is not None and now <= last:
        now = last + timedelta(microseconds=1)
    session.info["cases.clock"] = now
    return now


def _event(
    session: Session,
    case: Case,
    actor: User,
    action: str,
    details: dict[str, Any],
    at: datetime | None = None,
) -> None:
    at = at or _now(session)
    session.add(
        CaseEvent(
            case_id=case.id,
            actor_id=actor.id,
            actor_username=actor.username,
            action=action,
            details=details,
            created_at=at,
        )
    )
    case.updated_at = at


def _audit(
    session: Session,
    action: str,
    actor: User,
    case_id: uuid.UUID,
    origin: Origin | None,
    **details: Any,
) -> None:
    audit.record(
        session,
        action=action,
        actor=actor,
        origin=origin,
        target_type="case",
        target_id=case_id,
        details=details,
    )


_MEMBER_ADDED = "case.member_added"
_OWNER_CHANGED = "case.owner_changed"


def _notify(
    session: Session,
    context: AppContext,
    outcome: Outcome,
    case: Case,
    user: User,
    caller: User,
    kind: str,
) -> None:
    """Tell a user (not the caller, who knows) they were added to or given a case."""
    if user.id == caller.id:
        return
    if kind == _OWNER_CHANGED:
        title = f"Case assigned to you: {case.title}"
        message = f'{caller.username} made you the owner of the case "{case.title}".'
    else:
        title = f"Added to case: {case.title}"
        message = f'{caller.username} added you to the case "{case.title}".'
    outcome.deliveries.append(
        notifications.notify_scan_finished(
            session,
            context,
            ScanFinished(
                user_id=user.id,
                scan_kind="case",
                scan_id=case.id,
                kind=kind,
                severity=Severity.INFO,
                title=title,
                message=message,
            ),
        )
    )


def _owns(viewer: User, case: Case) -> bool:
    return case.owner_id == viewer.id or _is_admin(viewer)


def _eligible_owner(session: Session, user_id: uuid.UUID) -> User:
    user = CaseRepository(session).user(user_id)
    if user is None or not user.is_active or user.role not in STAFF:
        raise ValidationFailed("The owner must be an active analyst or admin")
    return user


# Changing


def create_case(
    session: Session,
    context: AppContext,
    creator: User,
    data: CaseCreate,
    *,
    origin: Origin | None = None,
) -> tuple[CaseView, Outcome]:
    repository = CaseRepository(session)
    owner = (
        creator if data.ownerId in (None, creator.id) else _eligible_owner(session, data.ownerId)
    )
    member_ids = list(dict.fromkeys(data.memberIds))
    found = repository.users(member_ids)
    for user_id in member_ids:
        user = found.get(user_id)
        if user is None or not user.is_active:
            raise ValidationFailed(f"memberIds: {user_id} is not an active user")
    members = [found[user_id] for user_id in member_ids if user_id != owner.id]
    if owner.id != creator.id and creator.id not in {m.id for m in members}:
        members.insert(0, creator)
    now = _now(session)
    case = Case(
        title=data.title,
        description=data.description,
        priority=data.priority.value,
        status=CaseStatus.OPEN.value,
        owner_id=owner.id,
        created_by=creator.id,
        created_at=now,
        updated_at=now,
    )
    repository.add(case)
    for member in members:  # in the order given: the creator first
        session.add(
            CaseMember(
                case_id=case.id, user_id=member.id, added_by=creator.id, added_at=_now(session)
            )
        )
    _event(
        session,
        case,
        creator,
        "case.created",
        {
            "title": case.title,
            "priority": case.priority,
            "owner": _ref(owner),
            "members": [_ref(m) for m in members],
        },
        at=now,
    )
    _audit(
        session,
        "case.create",
        creator,
        case.id,
        origin,
        title=case.title,
        owner_id=str(owner.id),
        member_ids=[str(m.id) for m in members],
    )
    outcome = Outcome()
    _notify(
        session,
        context,
        outcome,
        case,
        owner,
        creator,
        _OWNER_CHANGED,
    )
    for member in members:
        _notify(session, context, outcome, case, member, creator, _MEMBER_ADDED)
    session.flush()
    logger.info("case.created case_id=%s by=%s", case.id, creator.id)
    return view(session, creator, case.id), outcome


def update_case(
    session: Session,
    context: AppContext,
    caller: User,
    case_id: uuid.UUID,
    data: CaseUpdate,
    *,
    origin: Origin | None = None,
) -> tuple[CaseView, Outcome]:
    row = readable_case(session, caller, case_id)
    case = row.case
    outcome = Outcome()
    new_owner: User | None = None
    if data.ownerId is not None and data.ownerId != case.owner_id:
        if not _owns(caller, case):
            raise Forbidden("Only the case's owner or an admin changes its owner")
        new_owner = _eligible_owner(session, data.ownerId)
    changes: dict[str, list[Any]] = {}
    for name in ("title", "description", "priority"):
        value = getattr(data, name)
        if value is not None and str(value) != getattr(case, name):
            changes[name] = [getattr(case, name), str(value)]
            setattr(case, name, str(value))
    audited: dict[str, Any] = {}
    if changes:
        _event(session, case, caller, "case.updated", {"changes": changes})
        audited["changes"] = changes
    if data.status is not None and data.status.value != case.status:
        before = case.status
        case.status = data.status.value
        _event(session, case, caller, "case.status_changed", {"from": before, "to": case.status})
        case.closed_at = case.updated_at if data.status is CaseStatus.CLOSED else None
        audited["status"] = [before, case.status]
    if new_owner is not None:
        repository = CaseRepository(session)
        previous = row.owner
        membership = repository.member(case.id, new_owner.id)
        if membership is not None:
            repository.delete(membership)
        case.owner_id = new_owner.id
        if repository.member(case.id, previous.id) is None:
            session.add(CaseMember(case_id=case.id, user_id=previous.id, added_by=caller.id))
        _event(
            session,
            case,
            caller,
            "case.owner_changed",
            {"from": _ref(previous), "to": _ref(new_owner)},
        )
        audited["owner"] = [str(previous.id), str(new_owner.id)]
        _notify(
            session,
            context,
            outcome,
            case,
            new_owner,
            caller,
            _OWNER_CHANGED,
        )
    if audited:
        _audit(session, "case.update", caller, case.id, origin, **audited)
        logger.info("case.updated case_id=%s by=%s", case.id, caller.id)
    session.flush()
    return view(session, caller, case.id), outcome


def delete_case(
    session: Session, caller: User, case_id: uuid.UUID, *, origin: Origin | None = None
) -> None:
    case = readable_case(session, caller, case_id).case
    if not _owns(caller, case):
        raise Forbidden("Only the case's owner or an admin deletes it")
    _audit(
        session,
        "case.delete",
        caller,
        case.id,
        origin,
        title=case.title,
        owner_id=str(case.owner_id),
    )
    CaseRepository(session).delete(case)
    logger.info("case.deleted case_id=%s by=%s", case_id, caller.id)


def add_scan(
    session: Session,
    caller: User,
    case_id: uuid.UUID,
    kind: ScanKind,
    scan_id: uuid.UUID,
    *,
    origin: Origin | None = None,
) -> ScanItem:
    case = readable_case(session, caller, case_id).case
    owner_id = readable_scan(session, caller, kind, scan_id).owner_id
    if not can_manage(caller, kind, owner_id):
        raise Forbidden("Only who manages a scan adds it to a case")
    repository = CaseRepository(session)
    if repository.case_scan(case.id, kind.value, scan_id) is not None:
        raise Conflict("The scan is already in the case")
    link = CaseScan(
        case_id=case.id,
        scan_kind=kind.value,
        scan_id=scan_id,
        added_by=caller.id,
        added_at=_now(session),
    )
    repository.add(link)
    (item,) = scan_items(session, [link])
    _event(
        session,
        case,
        caller,
        "case.scan_added",
        {"scanKind": kind.value, "scanId": str(scan_id), "fileName": item.file_name},
    )
    _audit(
        session,
        "case.scan_add",
        caller,
        case.id,
        origin,
        scan_kind=kind.value,
        scan_id=str(scan_id),
    )
    session.flush()
    return item


def remove_scan(
    session: Session,
    caller: User,
    case_id: uuid.UUID,
    kind: ScanKind,
    scan_id: uuid.UUID,
    *,
    origin: Origin | None = None,
) -> None:
    case = readable_case(session, caller, case_id).case
    repository = CaseRepository(session)
    link = repository.case_scan(case.id, kind.value, scan_id)
    if link is None:
        raise NotFound("Scan not found in this case")
    repository.delete(link)
    _event(
        session, case, caller, "case.scan_removed", {"scanKind": kind.value, "scanId": str(scan_id)}
    )
    _audit(
        session,
        "case.scan_remove",
        caller,
        case.id,
        origin,
        scan_kind=kind.value,
        scan_id=str(scan_id),
    )
    session.flush()


def add_member(
    session: Session,
    context: AppContext,
    caller: User,
    case_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None,
    username: str | None,
    origin: Origin | None = None,
) -> tuple[CaseMember, User, Outcome]:
    case = readable_case(session, caller, case_id).case
    if not _owns(caller, case):
        raise Forbidden("Only the case's owner or an admin adds members")
    repository = CaseRepository(session)
    user = (
        repository.user(user_id) if user_id is not None else repository.user_named(username or "")
    )
    if user is None:
        raise NotFound(USER_NOT_FOUND)
    if not user.is_active:
        raise ValidationFailed("The user is not active")
    if user.id == case.owner_id or repository.member(case.id, user.id) is not None:
        raise Conflict("The user is already on the case")
    member = CaseMember(
        case_id=case.id, user_id=user.id, added_by=caller.id, added_at=_now(session)
    )
    repository.add(member)
    _event(session, case, caller, "case.member_added", {"user": _ref(user)})
    _audit(session, "case.member_add", caller, case.id, origin, user_id=str(user.id))
    outcome = Outcome()
    _notify(session, context, outcome, case, user, caller, _MEMBER_ADDED)
    session.flush()
    return member, user, outcome


def remove_member(
    session: Session,
    caller: User,
    case_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    origin: Origin | None = None,
) -> None:
    case = readable_case(session, caller, case_id).case
    if not _owns(caller, case) and caller.id != user_id:
        raise Forbidden("Only the case's owner or an admin removes other members")
    repository = CaseRepository(session)
    member = repository.member(case.id, user_id)
    if member is None:
        raise NotFound(MEMBER_NOT_FOUND)
    user = repository.user(user_id)
    repository.delete(member)
    ref = _ref(user) if user is not None else {"id": str(user_id), "username": ""}
    _event(session, case, caller, "case.member_removed", {"user": ref})
    _audit(session, "case.member_remove", caller, case.id, origin, user_id=str(user_id))
    session.flush()


def add_note(
    session: Session, author: User, case_id: uuid.UUID, body: str, *, origin: Origin | None = None
) -> CaseNote:
    case = readable_case(session, author, case_id).case
    note = CaseNote(
        case_id=case.id,
        author_id=author.id,
        author_username=author.username,
        body=body,
        created_at=_now(session),
    )
    CaseRepository(session).add(note)
    _event(session, case, author, "case.note_added", {"noteId": str(note.id)})
    _audit(session, "case.note_add", author, case.id, origin, note_id=str(note.id))
    session.flush()
    return note
