from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, StrictBool

from veriscan.admin import service, users
from veriscan.auth import service as auth_service
from veriscan.auth.dependencies import AdminUser
from veriscan.auth.models import Role
from veriscan.auth.schemas import DisplayName, Email, Password, Username, UserOut
from veriscan.deps import Context, DbSession, parse_uuid
from veriscan.openapi import ResourceId, errors

router = APIRouter(prefix="/api/admin", tags=["admin"])


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
    body: UserCreate, admin: AdminUser, session: DbSession, context: Context
) -> UserEnvelope:
    user = auth_service.create_user(
        session,
        context,
        username=body.username,
        email=str(body.email),
        password=body.password,
        role=body.role,
        name=body.name,
    )
    return UserEnvelope(data=UserOut.model_validate(user))


@router.patch("/users/{user_id}", responses=errors(400, 401, 403, 404, 409))
def update_user(
    user_id: ResourceId, body: UserUpdate, admin: AdminUser, session: DbSession
) -> UserEnvelope:
    parsed: uuid.UUID = parse_uuid(user_id, invalid_status=404, not_found="User not found")
    user = users.update_user(session, admin, parsed, role=body.role, is_active=body.is_active)
    return UserEnvelope(data=UserOut.model_validate(user))
