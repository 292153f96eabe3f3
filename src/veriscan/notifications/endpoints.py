"""/api/notifications: the caller's own notifications and preferences."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from veriscan.deps import CurrentUser, DbSession, parse_uuid
from veriscan.notifications import service
from veriscan.notifications.models import Notification, NotificationPreferences
from veriscan.notifications.schemas import (
    DeletedEnvelope,
    NotificationEnvelope,
    NotificationList,
    NotificationOut,
    NotificationPagination,
    PreferencesEnvelope,
    PreferencesOut,
    PreferencesUpdate,
    ReadAllEnvelope,
    ReadAllResult,
    UnreadCount,
    UnreadEnvelope,
)
from veriscan.openapi import ResourceId, errors

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


def _id(value: str) -> uuid.UUID:
    return parse_uuid(value, invalid_status=404, not_found=service.NOT_FOUND)


def _out(notification: Notification) -> NotificationOut:
    return NotificationOut(
        id=notification.id,
        kind=notification.kind,
        severity=notification.severity,
        title=notification.title,
        message=notification.message,
        scanKind=notification.scan_kind,
        scanId=notification.scan_id,
        createdAt=notification.created_at,
        read=notification.read_at is not None,
        readAt=notification.read_at,
    )


def _preferences(preferences: NotificationPreferences) -> PreferencesEnvelope:
    return PreferencesEnvelope(
        data=PreferencesOut(inApp=preferences.in_app, email=preferences.email)
    )


# The concrete paths come before /{notification_id}, which would otherwise capture them.


@router.get("", responses=errors(400, 401))
def list_notifications(
    user: CurrentUser,
    session: DbSession,
    unread: Annotated[bool, Query(description="Only the unread ones")] = False,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> NotificationList:
    rows, total, pages, unread_total = service.list_notifications(
        session, user, unread_only=unread, page=page, per_page=per_page
    )
    return NotificationList(
        data=[_out(row) for row in rows],
        pagination=NotificationPagination(page=page, per_page=per_page, total=total, pages=pages),
        unread=unread_total,
    )


@router.get("/unread-count", responses=errors(401))
def unread_count(user: CurrentUser, session: DbSession) -> UnreadEnvelope:
    return UnreadEnvelope(data=UnreadCount(unread=service.unread_count(session, user)))


@router.post("/read-all", responses=errors(401))
def read_all(user: CurrentUser, session: DbSession) -> ReadAllEnvelope:
    marked = service.mark_all_read(session, user)
    return ReadAllEnvelope(data=ReadAllResult(marked=marked, unread=0))


@router.get("/preferences", responses=errors(401))
def get_preferences(user: CurrentUser, session: DbSession) -> PreferencesEnvelope:
    return _preferences(service.preferences(session, user))


@router.put("/preferences", responses=errors(400, 401))
def put_preferences(
    body: PreferencesUpdate, user: CurrentUser, session: DbSession
) -> PreferencesEnvelope:
    return _preferences(service.update_preferences(session, user, body))


@router.post("/{notification_id}/read", responses=errors(401, 404))
def mark_read(
    notification_id: ResourceId, user: CurrentUser, session: DbSession
) -> NotificationEnvelope:
    return NotificationEnvelope(data=_out(service.mark_read(session, user, _id(notification_id))))


@router.delete("/{notification_id}", responses=errors(401, 404))
def delete_notification(
    notification_id: ResourceId, user: CurrentUser, session: DbSession
) -> DeletedEnvelope:
    service.delete(session, user, _id(notification_id))
    return DeletedEnvelope(message="Notification deleted")
