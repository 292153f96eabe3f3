"""The grants sharing gives, as SQL: a scan shared with a user, a scan assigned to one.
Registered with scans.access (who may read a scan), and their rows forgotten with the
scan (scans.cleanup)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BindParameter, Select, delete, select
from sqlalchemy.orm import Session

from veriscan.accounts.models import User
from veriscan.scans import ScanKind
from veriscan.scans.access import Grant, register_grant
from veriscan.scans.cleanup import register_forget
from veriscan.sharing.models import ScanAssignment, ScanShare


def shared_with(kind: ScanKind, user_id: uuid.UUID) -> Select[Any]:
    return select(ScanShare.scan_id).where(
        ScanShare.scan_kind == kind.value, ScanShare.user_id == user_id
    )


def assigned_to(kind: ScanKind, user_id: uuid.UUID) -> Select[Any]:
    return select(ScanAssignment.scan_id).where(
        ScanAssignment.scan_kind == kind.value, ScanAssignment.assignee_id == user_id
    )


def _shared_scans(kind: ScanKind, viewer: User) -> Select[Any]:
    return shared_with(kind, viewer.id)


def _assigned_scans(kind: ScanKind, viewer: User) -> Select[Any]:
    return assigned_to(kind, viewer.id)


def _share_readers(kind: ScanKind, scan_id: BindParameter[Any]) -> list[Select[Any]]:
    return [
        select(ScanShare.user_id).where(
            ScanShare.scan_kind == kind.value, ScanShare.scan_id == scan_id
        )
    ]


def _assignee(kind: ScanKind, scan_id: BindParameter[Any]) -> list[Select[Any]]:
    return [
        select(ScanAssignment.assignee_id).where(
            ScanAssignment.scan_kind == kind.value, ScanAssignment.scan_id == scan_id
        )
    ]


def forget(session: Session, kind: ScanKind, scan_ids: list[uuid.UUID]) -> None:
    """Delete the scans' shares and assignment (in the caller's transaction)."""
    session.execute(
        delete(ScanShare).where(ScanShare.scan_kind == kind.value, ScanShare.scan_id.in_(scan_ids))
    )
    session.execute(
        delete(ScanAssignment).where(
            ScanAssignment.scan_kind == kind.value, ScanAssignment.scan_id.in_(scan_ids)
        )
    )


register_grant(Grant("share", _shared_scans, _share_readers))
register_grant(Grant("assignment", _assigned_scans, _assignee))
register_forget("sharing", forget)
