from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from veriscan.core.db import Base, UUIDPrimaryKey, utcnow


class Blob(Base):
    """Stored content, once per sha256 however many records point at it."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # Records that use this content; the blob is removed when it drops to zero.
    ref_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class File(UUIDPrimaryKey, Base):
    __tablename__ = "files"
    # A page of a user's files, newest first (GET /api/files/ with page and per_page).
    __table_args__ = (Index("ix_files_user_uploaded", "user_id", "upload_date", "id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    file_size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(127))
    hash_md5: Mapped[str] = mapped_column(String(32))
    hash_sha1: Mapped[str] = mapped_column(String(40))
    hash_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    upload_date: Mapped[datetime] = mapped_column(default=utcnow, index=True)
