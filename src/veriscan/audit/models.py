"""The audit log: who did what, when, from where. Rows are only ever inserted."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from veriscan.core.db import Base, UUIDPrimaryKey, utcnow


class AuditEvent(UUIDPrimaryKey, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_created", "created_at"),
        Index("ix_audit_events_actor_created", "actor_id", "created_at"),
        Index("ix_audit_events_action_created", "action", "created_at"),
    )

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who: kept as a name too, so the record outlives the account (the id is then null).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    actor_username: Mapped[str] = mapped_column(String(50), default="")
    # What: "domain.verb", e.g. auth.login, file.upload, scan.export, user.role_changed.
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(20), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    # From where: the client address (after trusted proxies) and its user agent.
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    # Anything else worth keeping (never secrets: no key values, no passwords).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
