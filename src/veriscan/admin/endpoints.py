from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from veriscan.admin import service
from veriscan.auth.dependencies import AdminUser
from veriscan.deps import Context, DbSession
from veriscan.openapi import errors

router = APIRouter(prefix="/api/admin", tags=["admin"])


class StatsEnvelope(BaseModel):
    success: bool = True
    data: dict[str, Any]


@router.get("/stats", responses=errors(401, 403))
def stats(user: AdminUser, session: DbSession, context: Context) -> StatsEnvelope:
    return StatsEnvelope(data=service.statistics(session, context))
