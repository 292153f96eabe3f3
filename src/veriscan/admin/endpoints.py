from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictBool

from veriscan.accounts.models import Role
from veriscan.admin import analytics as analytics_service
from veriscan.admin import health as health_service
from veriscan.admin import service, users
from veriscan.audit.service import Origin
from veriscan.auth.schemas import DisplayName, Email, Password, Username, UserOut
from veriscan.core.errors import ValidationFailed
from veriscan.deps import AdminUser, Context, DbSession, parse_uuid
from veriscan.openapi import ResourceId, errors

router = APIRouter(prefix="/api/admin", tags=["admin"])
# Public: load balancers ask without a token, and the answer says nothing secret.
health_router = APIRouter(tags=["health"])


class StatsEnvelope(BaseModel):
    success: bool = True
    data: dict[str, Any]


class UserPagination(BaseModel):
    total: int
    page: int
    limit: int
    pages: int


class UserList(BaseModel):
    success: bool = True
    data: list[UserOut]
    pagination: UserPagination


class UserEnvelope(BaseModel):
    success: bool = True
    data: UserOut


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: Username
    email: Email
    password: Password
    role: Role = Role.OPERATIVE
    name: DisplayName | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Role | None = None
    # Strict: true or false, not 0/1 or "yes" (the schema says boolean).
    is_active: StrictBool | None = None


@router.get("/stats", responses=errors(401, 403))
def stats(user: AdminUser, session: DbSession, context: Context) -> StatsEnvelope:
    return StatsEnvelope(data=service.statistics(session, context))


# A calendar date, and only that: pydantic's lax dates took "0" for 1970-01-01.
DATE_ONLY: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "date"},
        {"type": "string", "maxLength": 0},
        {"type": "null"},
    ]
}


def _day(name: str, value: str | None) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError(value)
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(f"{name}: expected a date (YYYY-MM-DD)") from None


@router.get("/analytics", responses=errors(400, 401, 403))
def analytics(
    user: AdminUser,
    session: DbSession,
    period: analytics_service.Period = "day",
    start: Annotated[str | None, Query(alias="from", json_schema_extra=DATE_ONLY)] = None,
    end: Annotated[str | None, Query(alias="to", json_schema_extra=DATE_ONLY)] = None,
) -> StatsEnvelope:
    """Scans per day, week or month (UTC; weeks start on Monday), with every bucket of the
    range, and the ten users with the most scans in it. The default range is the last 30
    days, 12 weeks or 12 months."""
    return StatsEnvelope(
        data=analytics_service.analytics(session, period, _day("from", start), _day("to", end))
    )


class HealthCheck(BaseModel):
    status: Literal["ok", "down", "disabled"]
    latencyMs: float
    detail: str


class EngineChecks(BaseModel):
    yara: HealthCheck
    clamav: HealthCheck
    virustotal: HealthCheck


class HealthChecks(BaseModel):
    database: HealthCheck
    queue: HealthCheck
    engines: EngineChecks
    socketio: HealthCheck


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    version: str
    uptimeSeconds: int
    checks: HealthChecks


@health_router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The database or the queue is down"}},
)
@health_router.get(
    "/api/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The database or the queue is down"}},
)
async def health(context: Context) -> JSONResponse:
    """200 when the server can serve ("ok", or "degraded" when an optional engine or
    socket.io is down); 503 "down" when the database or the queue is."""
    report = await health_service.check(context)
    return JSONResponse(report.body, status_code=report.http_status)


@router.get("/users", responses=errors(400, 401, 403))
def list_users(
    admin: AdminUser,
    session: DbSession,
    search: Annotated[str | None, Query(max_length=100)] = None,
    role: Role | None = None,
    active: bool | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> UserList:
    found, total, pages = users.list_users(
        session,
        search=search,
        role=role.value if role else None,
        active=active,
        page=page,
        limit=limit,
    )
    return UserList(
        data=[UserOut.model_validate(u) for u in found],
        pagination=UserPagination(total=total, page=page, limit=limit, pages=pages),
    )


@router.post("/users", status_code=status.HTTP_201_CREATED, responses=errors(400, 401, 403, 409))
def create_user(
    body: UserCreate, request: Request, admin: AdminUser, session: DbSession, context: Context
) -> UserEnvelope:
    user = users.create_user(
        session,
        context,
        admin,
        origin=Origin.of(request),
        username=body.username,
        email=str(body.email),
        password=body.password,
        role=body.role,
        name=body.name,
    )
    return UserEnvelope(data=UserOut.model_validate(user))


@router.patch("/users/{user_id}", responses=errors(400, 401, 403, 404, 409))
def update_user(
    user_id: ResourceId, body: UserUpdate, request: Request, admin: AdminUser, session: DbSession
) -> UserEnvelope:
    parsed: uuid.UUID = parse_uuid(user_id, invalid_status=404, not_found="User not found")
    user = users.update_user(
        session,
        admin,
        parsed,
        role=body.role,
        is_active=body.is_active,
        origin=Origin.of(request),
    )
    return UserEnvelope(data=UserOut.model_validate(user))
