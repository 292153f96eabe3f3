"""Recording what happened: one row per action, in the action's own transaction.

Callers pass the session of the transaction that performs the action, so the entry is
committed with it or not at all. Nothing here updates or deletes a row.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from veriscan.audit.models import AuditEvent


class Origin:
    """Where a request came from: the client address (after trusted proxies) and agent."""

    def __init__(self, ip_address: str = "", user_agent: str = "") -> None:
        self.ip_address = ip_address[:45]
        self.user_agent = user_agent[:255]

    @classmethod
    def of(cls, connection: HTTPConnection | None) -> Origin:
        if connection is None:
            return cls()
        client = connection.client
        return cls(client.host if client else "", connection.headers.get("user-agent", ""))


def record(
    session: Session,
    *,
    action: str,
    actor: Any | None = None,
    origin: Origin | None = None,
    target_type: str = "",
    target_id: uuid.UUID | str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an entry to the session's transaction. `actor` is a User (or None for the
    system or an unknown caller); `details` must never hold secrets."""
    event = entry(
        action=action,
        actor=actor,
        origin=origin,
        target_type=target_type,
        target_id=target_id,
        details=details,
    )
    session.add(event)
    return event


def entry(
    *,
    action: str,
    actor: Any | None = None,
    origin: Origin | None = None,
    target_type: str = "",
    target_id: uuid.UUID | str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """The entry `record` adds, for a caller that inserts it itself (in its transaction)."""
    origin = origin or Origin()
    return AuditEvent(
        actor_id=getattr(actor, "id", None),
        actor_username=getattr(actor, "username", "") or "",
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        ip_address=origin.ip_address,
        user_agent=origin.user_agent,
        details=details or {},
    )
