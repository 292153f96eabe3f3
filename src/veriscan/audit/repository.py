"""Reading the audit log: filtered, newest first, a page at a time or streamed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from veriscan.audit.models import AuditEvent

# Rows fetched from the database at a time while an export streams.
EXPORT_BATCH = 500


@dataclass(frozen=True, slots=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    ip: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class AuditRepository:
    """Reads only: the log is written by `audit.service.record` and never changed."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _filtered(self, filters: AuditFilters) -> Select[AuditEvent]:
        query = select(AuditEvent)
        if filters.actor:
            actor = filters.actor.strip()
            try:
                actor_id: uuid.UUID | None = uuid.UUID(actor)
            except ValueError:
                actor_id = None
            if actor_id is not None:
                query = query.where(
                    or_(AuditEvent.actor_id == actor_id, AuditEvent.actor_username == actor)
                )
            else:
                query = query.where(AuditEvent.actor_username == actor.lower())
        if filters.action:
            action = filters.action.strip()
            if action.endswith("."):  # a domain: "auth." is every auth.* action
                query = query.where(AuditEvent.action.like(_escape_like(action) + "%", escape="\\"))
            else:
                query = query.where(AuditEvent.action == action)
        if filters.target_type:
            query = query.where(AuditEvent.target_type == filters.target_type)
        if filters.target_id:
            query = query.where(AuditEvent.target_id == filters.target_id)
        if filters.ip:
            query = query.where(AuditEvent.ip_address == filters.ip)
        if filters.date_from is not None:
            query = query.where(AuditEvent.created_at >= filters.date_from)
        if filters.date_to is not None:
            query = query.where(AuditEvent.created_at <= filters.date_to)
        return query

    @staticmethod
    def _newest_first(query: Select[AuditEvent]) -> Select[AuditEvent]:
        return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())

    def page(
        self, filters: AuditFilters, *, page: int, per_page: int
    ) -> tuple[list[AuditEvent], int]:
        query = self._filtered(filters)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self.session.scalars(
            self._newest_first(query).offset((page - 1) * per_page).limit(per_page)
        ).all()
        return list(rows), total

    def stream(self, filters: AuditFilters) -> Iterator[AuditEvent]:
        query = self._newest_first(self._filtered(filters)).execution_options(
            yield_per=EXPORT_BATCH
        )
        yield from self.session.scalars(query)
