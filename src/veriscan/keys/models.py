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
    # The key's fingerprint (QuotaGate.key_id), set whenever its value is stored: keys of
    # one value, added by several users, share VirusTotal's quota.
    fingerprint: Mapped[str | None] = mapped_column(String(24), default=None, index=True)
    # What VirusTotal's GET /users/{key} said the key may send (NULL: not said or not
    # asked yet), and when it was asked.
    allowed_per_minute: Mapped[int | None] = mapped_column(default=None)
    allowed_per_hour: Mapped[int | None] = mapped_column(default=None)
    allowed_per_day: Mapped[int | None] = mapped_column(default=None)
    allowance_read_at: Mapped[datetime | None] = mapped_column(default=None)
    # When a scan with this key was last granted a request (malware/dispatch.py): the
    # users of one key value take turns, the least recently served first.
    served_at: Mapped[datetime | None] = mapped_column(default=None)
