from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    actor_id: uuid.UUID | None
    actor_username: str
    action: str
    target_type: str
    target_id: str
    ip_address: str
    user_agent: str
    details: dict[str, Any]


class AuditPagination(BaseModel):
    total: int
    page: int
    per_page: int
    pages: int


class AuditList(BaseModel):
    success: bool = True
    data: list[AuditEventOut]
    pagination: AuditPagination
