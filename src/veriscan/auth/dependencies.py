"""Named dependencies for who is calling: CurrentUser, AdminUser."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from veriscan.auth import service
from veriscan.auth.models import Role, User
from veriscan.core.errors import Forbidden, Unauthorized
from veriscan.deps import get_context

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/auth/login")


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("Missing bearer token")
    return credentials.credentials


def get_authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> service.Authenticated:
    return service.authenticate(get_context(request), _token(credentials))


def get_current_user(
    authenticated: Annotated[service.Authenticated, Depends(get_authenticated)],
) -> User:
    return authenticated.user


def get_admin_user(user: Annotated[User, Depends(get_current_user)]) -> User:
    if user.role != Role.ADMIN.value:
        raise Forbidden("Admin role required")
    return user


def get_refresh_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    return _token(credentials)


CurrentAuth = Annotated[service.Authenticated, Depends(get_authenticated)]
CurrentUser = Annotated[User, Depends(get_current_user)]
AdminUser = Annotated[User, Depends(get_admin_user)]
RefreshToken = Annotated[str, Depends(get_refresh_token)]
