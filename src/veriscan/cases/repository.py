from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ScalarSelect, Select, func, select
from sqlalchemy.orm import Session

from veriscan.accounts.models import User
from veriscan.cases.access import readable_cases
from veriscan.cases.models import Case, CaseEvent, CaseMember, CaseNote, CaseScan

# The most events a timeline reads for one case (far more than an investigation makes).
MAX_TIMELINE_EVENTS = 10_000


@dataclass(frozen=True)
class CaseFilters:
    status: str | None = None
    priority: str | None = None
    owner_id: uuid.UUID | None = None
    search: str | None = None
    page: int = 1
    limit: int = 20


@dataclass(frozen=True)
class CaseRow:
    case: Case
    owner: User
    scan_count: int
    member_count: int


def _scan_count() -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(CaseScan)
        .where(CaseScan.case_id == Case.id)
        .scalar_subquery()
    )


def _member_count() -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(CaseMember)
        .where(CaseMember.case_id == Case.id)
        .scalar_subquery()
    )


class CaseRepository:
    """Cases, their members, scans, notes and events. Reads of cases start from what the
    viewer may read (`readable_cases`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)
        self.session.flush()

    def delete(self, row: object) -> None:
        self.session.delete(row)
        self.session.flush()

    def _rows(self, viewer: User) -> Select[Case, User, int, int]:
        return (
            select(Case, User, _scan_count(), _member_count())
            .join(User, User.id == Case.owner_id)
            .where(readable_cases(viewer))
        )

    def get_readable(self, viewer: User, case_id: uuid.UUID) -> CaseRow | None:
        row = self.session.execute(self._rows(viewer).where(Case.id == case_id)).first()
        return CaseRow(row[0], row[1], row[2], row[3]) if row else None

    def listing(self, viewer: User, filters: CaseFilters) -> tuple[list[CaseRow], int]:
        query = self._rows(viewer)
        if filters.status:
            query = query.where(Case.status == filters.status)
        if filters.priority:
            query = query.where(Case.priority == filters.priority)
        if filters.owner_id:
            query = query.where(Case.owner_id == filters.owner_id)
        if filters.search:
            term = filters.search.lower()
            query = query.where(
                func.lower(Case.title).contains(term, autoescape=True)
                | func.lower(Case.description).contains(term, autoescape=True)
            )
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self.session.execute(
            query.order_by(Case.updated_at.desc(), Case.id.desc())
            .offset((filters.page - 1) * filters.limit)
            .limit(filters.limit)
        )
        return [CaseRow(r[0], r[1], r[2], r[3]) for r in rows], total

    # Users

    def user(self, user_id: uuid.UUID) -> User | None:
        return self.session.get(User, user_id)

    def user_named(self, username: str) -> User | None:
        return self.session.scalar(select(User).where(User.username == username.lower()))

    def users(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
        if not user_ids:
            return {}
        return {u.id: u for u in self.session.scalars(select(User).where(User.id.in_(user_ids)))}

    # Members

    def member(self, case_id: uuid.UUID, user_id: uuid.UUID) -> CaseMember | None:
        return self.session.get(CaseMember, (case_id, user_id))

    def members(self, case_id: uuid.UUID) -> list[tuple[CaseMember, User]]:
        rows = self.session.execute(
            select(CaseMember, User)
            .join(User, User.id == CaseMember.user_id)
            .where(CaseMember.case_id == case_id)
            .order_by(CaseMember.added_at, User.username)
        )
        return [(r[0], r[1]) for r in rows]

    # Scans

    def case_scan(self, case_id: uuid.UUID, kind: str, scan_id: uuid.UUID) -> CaseScan | None:
        return self.session.get(CaseScan, (case_id, kind, scan_id))

    def case_scans(self, case_id: uuid.UUID) -> list[CaseScan]:
        return list(
            self.session.scalars(
                select(CaseScan)
                .where(CaseScan.case_id == case_id)
                .order_by(CaseScan.added_at, CaseScan.scan_kind, CaseScan.scan_id)
            )
        )

    # Notes and events

    def notes(self, case_id: uuid.UUID, page: int, limit: int) -> tuple[list[CaseNote], int]:
        query = select(CaseNote).where(CaseNote.case_id == case_id)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self.session.scalars(
            query.order_by(CaseNote.created_at, CaseNote.id).offset((page - 1) * limit).limit(limit)
        )
        return list(rows), total

    def events(self, case_id: uuid.UUID) -> list[CaseEvent]:
        return list(
            self.session.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case_id)
                .order_by(CaseEvent.created_at, CaseEvent.id)
                .limit(MAX_TIMELINE_EVENTS)
            )
        )
