from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from veriscan.core.db import Base, Timestamps, UUIDPrimaryKey, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    OPERATIVE = "operative"


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "users"

    # Unique case-insensitively: the service stores them lower-cased.
    username: Mapped[str] = mapped_column(String(50), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.OPERATIVE.value)
    is_active: Mapped[bool] = mapped_column(default=True)


class AuthSession(UUIDPrimaryKey, Base):
    """One login. Every token carries its id; logging out revokes them all at once."""

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(255), default=None)
