from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from veriscan.accounts.models import Role
from veriscan.audit.service import Origin
from veriscan.auth import service
from veriscan.auth.schemas import (
    LoginData,
    LoginRequest,
    LoginResponse,
    MessageResponse,
    PeopleOut,
    PersonOut,
    ProfileUpdate,
    ProfileUpdateResponse,
    RefreshResponse,
    RegisterRequest,
    RegisterResponse,
    UserEnvelope,
    UserOut,
)
from veriscan.core.errors import Forbidden, ValidationFailed
from veriscan.deps import Context, CurrentAuth, CurrentUser, DbSession, RefreshToken, client_address
from veriscan.openapi import errors

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 403, 409),
)
def register(
    body: RegisterRequest, request: Request, session: DbSession, context: Context
) -> RegisterResponse:
    if context.settings.registration == "closed":
        raise Forbidden(
            "Registration is closed on this server: an administrator creates accounts",
            code="REGISTRATION_CLOSED",
        )
    if body.role not in (None, Role.OPERATIVE.value):
        # 400, not 403: the documents list 400 and 409 for this endpoint.
        raise ValidationFailed(
            "New users are operatives: only an admin gives another role "
            "(PATCH /api/admin/users/{id} or veriscan user create)",
            code="ROLE_NOT_ALLOWED",
        )
    user = service.register(session, context, body, origin=Origin.of(request))
    return RegisterResponse(
        message="User registered successfully", user=UserOut.model_validate(user)
    )


@router.post("/login", responses=errors(400, 401))
def login(body: LoginRequest, request: Request, context: Context) -> LoginResponse:
    result = service.login(
        context,
        body,
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )
    user = UserOut.model_validate(result.user)
    return LoginResponse(
        access_token=result.access_token,
        refresh_token=result.refresh_token,
        user=user,
        data=LoginData(token=result.access_token, user=user),
    )


@router.post("/refresh", responses=errors(401))
def refresh(token: RefreshToken, context: Context) -> RefreshResponse:
    return RefreshResponse(access_token=service.refresh(context, token))


@router.get("/profile", responses=errors(401, 404))
def get_profile(user: CurrentUser) -> UserEnvelope:
    return UserEnvelope(user=UserOut.model_validate(user))


@router.put("/profile", responses=errors(400, 401, 409))
def update_profile(
    body: ProfileUpdate,
    request: Request,
    current: CurrentAuth,
    session: DbSession,
    context: Context,
) -> ProfileUpdateResponse:
    user = service.update_profile(session, context, current, body, origin=Origin.of(request))
    return ProfileUpdateResponse(
        message="Profile updated successfully", user=UserOut.model_validate(user)
    )


@router.post("/logout", responses=errors(401))
def logout(current: CurrentAuth, request: Request, session: DbSession) -> MessageResponse:
    service.logout(session, current, origin=Origin.of(request))
    return MessageResponse(message="Successfully logged out")


users_router = APIRouter(prefix="/api/users", tags=["auth"])


@users_router.get("/lookup", responses=errors(400, 401))
def lookup_users(
    user: CurrentUser,
    session: DbSession,
    q: Annotated[
        str,
        Query(
            max_length=50,
            description="The start of a username or display name; under 2 characters, "
            "nobody is suggested",
        ),
    ] = "",
) -> PeopleOut:
    """Active users whose username or name starts with `q` (at most 8, never the caller):
    for choosing whom to share a scan with or assign it to. No e-mail addresses or ids."""
    start = q.strip()
    people = service.lookup(session, user, start) if len(start) >= 2 else []
    return PeopleOut(
        data=[PersonOut(username=p.username, name=p.name, role=p.role) for p in people]
    )
