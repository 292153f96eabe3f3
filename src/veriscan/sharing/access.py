"""Who may read and who may manage a scan, as SQL conditions (one place for both kinds).

- A malware scan is read by its owner, the users it was shared with, its assignee and
  the owners and members of any case that holds it. Everyone else gets 404
  (CONTRACT.md).
- A media scan is read by its owner, analysts and admins (CONTRACT.md), and also by the
  users it was shared with, its assignee and the owners and members of a case that
  holds it.
- A case is read by its owner, its members and admins; its scans are read through it by
  its owner and members only (an admin sees in a case only the scans they read anyway).
- Managing a scan (sharing it, assigning it, adding it to a case, editing its tags) is for
  those who could read it without any grant: the owner, and for media scans analysts and
  admins. A grant gives reading and commenting, never more.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, any_, func, or_, select, text, true, union
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from veriscan.accounts.models import Role, User
from veriscan.cases.models import Case, CaseMember, CaseScan
from veriscan.realtime import user_room
from veriscan.scans import ScanKind
from veriscan.sharing.models import ScanAssignment, ScanShare

if TYPE_CHECKING:
    from veriscan.context import AppContext

logger = logging.getLogger("veriscan.sharing")

STAFF = (Role.ADMIN.value, Role.ANALYST.value)


def is_staff(user: User) -> bool:
    return user.role in STAFF


def participates(viewer: User) -> ColumnElement[bool]:
    """The condition on `Case` for the cases the viewer owns or is a member of."""
    member_of = select(CaseMember.case_id).where(CaseMember.user_id == viewer.id)
    return or_(Case.owner_id == viewer.id, Case.id.in_(member_of))


def readable_cases(viewer: User) -> ColumnElement[bool]:
    """The condition on `Case` for the cases the viewer may read: their own and those they
    are a member of; admins read every case (but see in it only the scans they read)."""
    if viewer.role == Role.ADMIN.value:
        return true()
    return participates(viewer)


def shared_with(kind: ScanKind, user_id: uuid.UUID) -> Select[Any]:
    return select(ScanShare.scan_id).where(
        ScanShare.scan_kind == kind.value, ScanShare.user_id == user_id
    )


def assigned_to(kind: ScanKind, user_id: uuid.UUID) -> Select[Any]:
    return select(ScanAssignment.scan_id).where(
        ScanAssignment.scan_kind == kind.value, ScanAssignment.assignee_id == user_id
    )


def in_own_cases(kind: ScanKind, viewer: User) -> Select[Any]:
    """Scans in the cases the viewer takes part in. Only owners and members read a case's
    scans through it: an admin reading every case does not make every malware scan in one
    theirs to read (CONTRACT.md keeps malware scans from admins too).

    From the viewer's cases to their scans (case_scans' key starts with case_id), not from
    every scan of the kind to its case, which SQLite chose when written as a join."""
    cases = union(
        select(Case.id).where(Case.owner_id == viewer.id),
        select(CaseMember.case_id).where(CaseMember.user_id == viewer.id),
    )
    return select(CaseScan.scan_id).where(
        CaseScan.case_id.in_(cases), CaseScan.scan_kind == kind.value
    )


def granted(kind: ScanKind, viewer: User) -> Any:
    """The ids of the scans of this kind granted to the viewer: shared with them, assigned
    to them, or in a case they take part in (whoever owns them)."""
    return union(
        shared_with(kind, viewer.id), assigned_to(kind, viewer.id), in_own_cases(kind, viewer)
    )


def visible(
    kind: ScanKind, viewer: User, owner: Any, scan_id: Any, *, dialect: str = "sqlite"
) -> ColumnElement[bool]:
    """The condition for the scans (of the table whose `owner` and `scan_id` columns are
    given) that the viewer may read.

    `owner = me OR id IN (grants)` has no index to use: PostgreSQL read every scan and
    hashed every file (bench/listing.py: 137 ms a page for 2,718 visible scans of 100,000).
    So, per database:
    - PostgreSQL: `owner = me OR id = ANY((SELECT array_agg(id) FROM grants))`: the grants
      are computed once (an InitPlan) and both sides use an index (a BitmapOr);
    - SQLite: `id IN (own UNION grants)`, each part from its own index.
    """
    if kind is ScanKind.MEDIA and is_staff(viewer):
        return true()
    grants = [
        shared_with(kind, viewer.id),
        assigned_to(kind, viewer.id),
        in_own_cases(kind, viewer),
    ]
    if dialect == "postgresql":
        granted = union(*grants).subquery()
        ids = select(func.array_agg(granted.c[0])).scalar_subquery()
        # coalesce: an expression, so ANY reads one array (not a set of them), and an
        # empty one when there is no grant.
        return or_(owner == viewer.id, scan_id == any_(func.coalesce(ids, text("'{}'::uuid[]"))))
    # correlate(None): the table is the outer query's too, and this must not refer to it.
    own = select(scan_id).where(owner == viewer.id).correlate(None)
    condition: ColumnElement[bool] = scan_id.in_(union(own, *grants))
    return condition


def readable_ids(
    session: Session, viewer: User, kind: ScanKind, scan_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these scans the viewer may read (one query per kind)."""
    if not scan_ids:
        return set()
    # Imported here: the scan models import nothing of this module, but keep it that way.
    from veriscan.malware.models import MalwareScan
    from veriscan.media.models import MediaScan

    table: Any = MediaScan if kind is ScanKind.MEDIA else MalwareScan
    dialect = session.get_bind().dialect.name
    condition = visible(kind, viewer, table.user_id, table.id, dialect=dialect)
    return set(session.scalars(select(table.id).where(table.id.in_(scan_ids), condition)))


def can_manage(viewer: User, kind: ScanKind, owner_id: uuid.UUID) -> bool:
    return owner_id == viewer.id or (kind is ScanKind.MEDIA and is_staff(viewer))


def grantees(session: Session, kind: ScanKind, scan_id: uuid.UUID) -> set[uuid.UUID]:
    """The users who read the scan through a grant: those it is shared with, its assignee,
    and the owners and members of the cases that hold it (admins read every case, but are
    not each told about every scan in one)."""
    cases = select(CaseScan.case_id).where(
        CaseScan.scan_kind == kind.value, CaseScan.scan_id == scan_id
    )
    query = union(
        select(ScanShare.user_id).where(
            ScanShare.scan_kind == kind.value, ScanShare.scan_id == scan_id
        ),
        select(ScanAssignment.assignee_id).where(
            ScanAssignment.scan_kind == kind.value, ScanAssignment.scan_id == scan_id
        ),
        select(Case.owner_id).where(Case.id.in_(cases)),
        select(CaseMember.user_id).where(CaseMember.case_id.in_(cases)),
    )
    return set(session.scalars(select(query.subquery().c[0])))


def grantee_rooms_in(session: Session, kind: ScanKind, scan_id: uuid.UUID) -> list[str]:
    """The socket.io rooms of the scan's grantees, read in the caller's transaction (the
    scan's final one: a share committed before it counts)."""
    return [user_room(user_id) for user_id in sorted(grantees(session, kind, scan_id))]


def grantee_rooms(context: AppContext, kind: ScanKind, scan_id: uuid.UUID) -> list[str]:
    """The socket.io rooms of the scan's grantees, for its final event. Read when the event
    is sent, so a share made while the scan ran counts. A failure costs the grantees the
    live event only (they see the result when they next read the scan)."""
    try:
        with context.db.session(writes=False) as session:
            return grantee_rooms_in(session, kind, scan_id)
    except SQLAlchemyError:
        logger.warning("sharing.grantees_failed kind=%s scan_id=%s", kind.value, scan_id)
        return []
