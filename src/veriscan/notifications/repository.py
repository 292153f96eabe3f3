"""The SQL of notifications: every query starts from the user who owns them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from veriscan.accounts.models import User
from veriscan.core.db import core_execute
from veriscan.notifications.models import (
    Notification,
    NotificationCount,
    NotificationPreferences,
)


class NotificationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    @staticmethod
    def _mine(user_id: uuid.UUID, *, unread_only: bool = False) -> list[ColumnElement[bool]]:
        conditions = [Notification.user_id == user_id]
        if unread_only:
            conditions.append(Notification.read_at.is_(None))
        return conditions

    def page(
        self, user_id: uuid.UUID, *, unread_only: bool, offset: int, limit: int
    ) -> tuple[Sequence[Notification], int]:
        where = self._mine(user_id, unread_only=unread_only)
        total = self.session.scalar(select(func.count()).select_from(Notification).where(*where))
        rows = self.session.scalars(
            select(Notification)
            .where(*where)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        return rows, int(total or 0)

    def unread_count(self, user_id: uuid.UUID) -> int:
        """One row, whatever the number (`NotificationCount`)."""
        count = core_execute(self.session, _unread_statement(), {"user_id": user_id}).scalar()
        return int(count or 0)

    def get_for(self, user_id: uuid.UUID, notification_id: uuid.UUID) -> Notification | None:
        return self.session.scalar(
            select(Notification).where(
                Notification.user_id == user_id, Notification.id == notification_id
            )
        )

    def insert(self, values: dict[str, Any]) -> None:
        """One notification row from its columns, every one given (`id` included): what
        a finished scan records, without the ORM's unit of work."""
        core_execute(self.session, _insert_statement(), values)

    def settings_of(self, user_id: uuid.UUID) -> tuple[bool, str] | None:
        """The owner's (in_app, email) preferences, None when never set."""
        row = core_execute(self.session, _settings_statement(), {"user_id": user_id}).first()
        return (bool(row[0]), str(row[1])) if row else None

    def add(self, notification: Notification) -> Notification:
        self.session.add(notification)
        self.session.flush()
        return notification

    def mark_all_read(self, user_id: uuid.UUID, now: datetime) -> int:
        result = self.session.execute(
            update(Notification)
            .where(*self._mine(user_id, unread_only=True))
            .values(read_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def delete(self, notification: Notification) -> None:
        self.session.delete(notification)
        self.session.flush()

    def preferences(self, user_id: uuid.UUID) -> NotificationPreferences | None:
        return self.session.get(NotificationPreferences, user_id)

    def save_preferences(self, preferences: NotificationPreferences) -> NotificationPreferences:
        self.session.add(preferences)
        self.session.flush()
        return preferences

    def recipient(self, user_id: uuid.UUID) -> tuple[str, str] | None:
        """The owner's e-mail address and display name, for the mail (None: user gone)."""
        row = self.session.execute(
            select(User.email, User.name).where(User.id == user_id, User.is_active.is_(True))
        ).first()
        return (row[0], row[1]) if row else None


# Every finished scan runs these: built once (building a statement cost more than running
# it), run with their parameters.


@cache
def _insert_statement() -> Any:
    return insert(Notification)


@cache
def _unread_statement() -> Any:
    user_id = bindparam("user_id", type_=NotificationCount.user_id.type)
    return select(NotificationCount.unread).where(NotificationCount.user_id == user_id)


@cache
def _settings_statement() -> Any:
    user_id = bindparam("user_id", type_=NotificationPreferences.user_id.type)
    return select(NotificationPreferences.in_app, NotificationPreferences.email).where(
        NotificationPreferences.user_id == user_id
    )
