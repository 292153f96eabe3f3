"""Who may read and who may manage a scan, as SQL conditions (one place for both kinds).

- A malware scan is read by its owner, the users it was shared with, its assignee and
  the owners and members of any case that holds it. Everyone else gets 404
  (CONTRACT.md).
- A media scan is read by its owner, analysts and admins (CONTRACT.md), and also by the
  users it was shared with, its assignee and the owners and members of a case that
  holds it.
- Managing a scan (sharing it, assigning it, adding it to a case, editing its tags) is for
  those who could read it without any grant: the owner, and for media scans analysts and
  admins. A grant gives reading and commenting, never more.

The grants are rows of higher domains (shares and assignments: sharing/access.py; cases:
cases/access.py), which register a `Grant` here when imported, as the kinds of scan
register their hooks (hooks.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    any_,
    bindparam,
    func,
    or_,
    select,
    text,
    true,
    union,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from veriscan.accounts.models import Role, User
from veriscan.core.db import core_execute
from veriscan.realtime import user_room
from veriscan.scans import ScanKind, ScanRef
from veriscan.scans.hooks import hooks_for

if TYPE_CHECKING:
    from veriscan.context import AppContext

# Its one event kept the name it had when this lived in sharing/access.py.
logger = logging.getLogger("veriscan.sharing")

STAFF = (Role.ADMIN.value, Role.ANALYST.value)


def is_staff(user: User) -> bool:
    return user.role in STAFF


def can_manage(viewer: User, kind: ScanKind, owner_id: uuid.UUID) -> bool:
    return owner_id == viewer.id or (kind is ScanKind.MEDIA and is_staff(viewer))


def readable_scan(session: Session, viewer: User, kind: ScanKind, scan_id: uuid.UUID) -> ScanRef:
    """A scan of either kind if the viewer may read it; 404 (the scans' own message)
    otherwise. Comments, cases and grants all ask through here."""
    return hooks_for(kind).read(session, viewer, scan_id)


# Grants


@dataclass(frozen=True)
class Grant:
    """One way a user reads a scan they do not own."""

    name: str
    # The ids of the scans of this kind granted to the viewer.
    scan_ids: Callable[[ScanKind, User], Select[Any]]
    # The users this grant lets read one scan (each select gives user ids), the scan's id
    # given as a bound parameter (the query is built once and run for every scan).
    readers: Callable[[ScanKind, BindParameter[Any]], list[Select[Any]]]


# Every grant, in the order the queries read them. Each is registered by the domain that
# keeps its rows, when imported: a process that read who may see a scan without one of
# them would leave its readers out, so that is an error (jobs.py and app.py import them).
GRANTS = ("share", "assignment", "case")

_grants: dict[str, Grant] = {}


def register_grant(grant: Grant) -> None:
    assert grant.name in GRANTS, grant.name
    _grants[grant.name] = grant


def grants() -> list[Grant]:
    missing = [name for name in GRANTS if name not in _grants]
    if missing:
        raise LookupError(
            f"grants not registered: {', '.join(missing)} "
            "(import veriscan.sharing.access and veriscan.cases.access)"
        )
    return [_grants[name] for name in GRANTS]


def _granted_parts(kind: ScanKind, viewer: User) -> list[Select[Any]]:
    return [grant.scan_ids(kind, viewer) for grant in grants()]


def granted(kind: ScanKind, viewer: User) -> Any:
    """The ids of the scans of this kind granted to the viewer: shared with them, assigned
    to them, or in a case they take part in (whoever owns them)."""
    return union(*_granted_parts(kind, viewer))


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
    parts = _granted_parts(kind, viewer)
    if dialect == "postgresql":
        all_granted = union(*parts).subquery()
        ids = select(func.array_agg(all_granted.c[0])).scalar_subquery()
        # coalesce: an expression, so ANY reads one array (not a set of them), and an
        # empty one when there is no grant.
        return or_(owner == viewer.id, scan_id == any_(func.coalesce(ids, text("'{}'::uuid[]"))))
    # correlate(None): the table is the outer query's too, and this must not refer to it.
    own = select(scan_id).where(owner == viewer.id).correlate(None)
    condition: ColumnElement[bool] = scan_id.in_(union(own, *parts))
    return condition


def readable_ids(
    session: Session, viewer: User, kind: ScanKind, scan_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these scans the viewer may read (one query per kind)."""
    if not scan_ids:
        return set()
    table = hooks_for(kind).table
    dialect = session.get_bind().dialect.name
    condition = visible(kind, viewer, table.user_id, table.id, dialect=dialect)
    return set(session.scalars(select(table.id).where(table.id.in_(scan_ids), condition)))


def grantees(session: Session, kind: ScanKind, scan_id: uuid.UUID) -> set[uuid.UUID]:
    """The users who read the scan through a grant: those it is shared with, its assignee,
    and the owners and members of the cases that hold it (admins read every case, but are
    not each told about every scan in one)."""
    query = _grantees_query(kind, tuple(grants()))
    return set(core_execute(session, query, {"scan_id": scan_id}).scalars())


@cache
def _grantees_query(kind: ScanKind, registered: tuple[Grant, ...]) -> Select[Any]:
    """Built once per kind (every finished scan asks): building it cost more than running
    it. The scan is the `scan_id` parameter."""
    scan_id: BindParameter[Any] = bindparam("scan_id")
    query = union(*(part for grant in registered for part in grant.readers(kind, scan_id)))
    return select(query.subquery().c[0])


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
