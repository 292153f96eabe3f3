"""FastAPI dependencies shared by every domain: the context and the request's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from veriscan.context import AppContext
from veriscan.core.errors import NotFound, ValidationFailed


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
