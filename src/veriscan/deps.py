"""FastAPI dependencies shared by every domain: the context, the request's transaction and
who is calling. Below every domain: it imports only the context, core and accounts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from veriscan.accounts.models import Role, User
from veriscan.accounts.service import Authenticated, authenticate
from veriscan.context import AppContext
from veriscan.core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent."""
    writes = request.method not in ("GET", "HEAD", "OPTIONS")
    with get_context(request).db.session(writes=writes) as session:
        yield session


Context = Annotated[AppContext, Depends(get_context)]
# scope="function": the transaction ends when the endpoint returns, so a client that
# hears 201 can rely on the row being committed.
DbSession = Annotated[Session, Depends(get_session, scope="function")]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def parse_uuid(value: str, *, invalid_status: int, not_found: str) -> uuid.UUID:
    """A path id: malformed ones are 400 where the document says so, else 404."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError):
        if invalid_status == 400:
            raise ValidationFailed("Invalid ID format: expected a UUID") from None
        raise NotFound(not_found) from None


_bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/auth/login")


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("Missing bearer token")
    return credentials.credentials


def get_authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Authenticated:
    return authenticate(get_context(request), _token(credentials))


def get_current_user(
    authenticated: Annotated[Authenticated, Depends(get_authenticated)],
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


CurrentAuth = Annotated[Authenticated, Depends(get_authenticated)]
CurrentUser = Annotated[User, Depends(get_current_user)]
AdminUser = Annotated[User, Depends(get_admin_user)]
RefreshToken = Annotated[str, Depends(get_refresh_token)]
