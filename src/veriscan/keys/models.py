from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from veriscan.core.db import Base, Timestamps, UUIDPrimaryKey


class ApiKey(UUIDPrimaryKey, Timestamps, Base):
    """A user's VirusTotal API key. The value is only ever stored encrypted."""

    __tablename__ = "api_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    encrypted_value: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True)
    # What VirusTotal last said of the key: valid, invalid or unverified (unreachable).
    status: Mapped[str] = mapped_column(String(16), default="unverified")
    last_validated_at: Mapped[datetime | None] = mapped_column(default=None)
