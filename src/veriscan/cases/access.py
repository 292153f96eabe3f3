"""Who reads a case, and the grant a case gives: its owner and members read the scans in
it (registered with scans.access; its rows forgotten with a scan, scans.cleanup).

A case is read by its owner, its members and admins; its scans are read through it by
its owner and members only (an admin sees in a case only the scans they read anyway).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, delete, or_, select, true, union
from sqlalchemy.orm import Session

from veriscan.accounts.models import Role, User
from veriscan.cases.models import Case, CaseMember, CaseScan
from veriscan.scans import ScanKind
from veriscan.scans.access import Grant, register_grant
from veriscan.scans.cleanup import register_forget


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


def _readers(kind: ScanKind, scan_id: BindParameter[Any]) -> list[Select[Any]]:
    """The owners and members of the cases that hold the scan."""
    cases = select(CaseScan.case_id).where(
        CaseScan.scan_kind == kind.value, CaseScan.scan_id == scan_id
    )
    return [
        select(Case.owner_id).where(Case.id.in_(cases)),
        select(CaseMember.user_id).where(CaseMember.case_id.in_(cases)),
    ]


def forget(session: Session, kind: ScanKind, scan_ids: list[uuid.UUID]) -> None:
    """Take the scans out of their cases (in the caller's transaction)."""
    session.execute(
        delete(CaseScan).where(CaseScan.scan_kind == kind.value, CaseScan.scan_id.in_(scan_ids))
    )


register_grant(Grant("case", in_own_cases, _readers))
register_forget("cases", forget)
