from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictBool

EmailChoice = Literal["never", "critical", "all"]


class NotificationOut(BaseModel):
    id: uuid.UUID
    kind: str
    severity: str
    title: str
    message: str
    scanKind: str | None
    scanId: uuid.UUID | None
    createdAt: datetime
    read: bool
    readAt: datetime | None


class NotificationPagination(BaseModel):
    page: int
    per_page: int
    total: int
    pages: int


class NotificationList(BaseModel):
    success: bool = True
    data: list[NotificationOut]
    pagination: NotificationPagination
    unread: int


class UnreadCount(BaseModel):
    unread: int


class UnreadEnvelope(BaseModel):
    success: bool = True
    data: UnreadCount


class NotificationEnvelope(BaseModel):
    success: bool = True
    data: NotificationOut


class ReadAllResult(BaseModel):
    marked: int
    unread: int


class ReadAllEnvelope(BaseModel):
    success: bool = True
    data: ReadAllResult


class DeletedEnvelope(BaseModel):
    success: bool = True
    message: str


class PreferencesOut(BaseModel):
    inApp: bool
    email: EmailChoice


class PreferencesUpdate(BaseModel):
    """Either field may be left out to keep its value."""

    model_config = ConfigDict(extra="forbid")
    inApp: StrictBool | None = None
    email: EmailChoice | None = None


class PreferencesEnvelope(BaseModel):
    success: bool = True
    data: PreferencesOut
