from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from veriscan.core.db import Base, UUIDPrimaryKey, utcnow
from veriscan.leases import LeasedJob, Leases


class MediaStatus(enum.StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class Verdict(enum.StrEnum):
    DEEPFAKE = "DEEPFAKE"
    SUSPICIOUS = "SUSPICIOUS"
    AUTHENTIC = "AUTHENTIC"


ACTIVE_MEDIA_STATUSES = (MediaStatus.PENDING.value, MediaStatus.PROCESSING.value)


class MediaScan(UUIDPrimaryKey, LeasedJob, Base):
    """An authenticity scan of one image, video or audio file."""

    __tablename__ = "media_scans"
    __table_args__ = (
        Index("ix_media_scans_user_created", "user_id", "created_at"),
        # A page of the history in each order (core.paging): a user's, and everyone's (staff).
        Index("ix_media_scans_user_date", "user_id", "created_at", "id"),
        Index("ix_media_scans_user_confidence", "user_id", "confidence", "created_at", "id"),
        Index("ix_media_scans_user_risk", "user_id", "risk_score", "created_at", "id"),
        Index("ix_media_scans_date", "created_at", "id"),
        Index("ix_media_scans_confidence", "confidence", "created_at", "id"),
        Index("ix_media_scans_risk", "risk_score", "created_at", "id"),
        # And, made by migration 0010 only (on an expression): ix_media_scans_user_name
        # (user_id, lower(file_name), created_at, id) and ix_media_scans_name (the same
        # without user_id).
        Index("ix_media_scans_status_lease", "status", "lease_until"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(8), index=True)  # IMAGE, VIDEO, AUDIO
    mime_type: Mapped[str] = mapped_column(String(127))
    file_size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Tags as text, for full-text search (the JSON column is not indexable everywhere).
    tags_text: Mapped[str] = mapped_column(Text, default="")

    status: Mapped[str] = mapped_column(String(12), default=MediaStatus.PENDING.value, index=True)
    result: Mapped[str | None] = mapped_column(String(12), default=None, index=True)
    risk_score: Mapped[int | None] = mapped_column(default=None)
    confidence: Mapped[int | None] = mapped_column(default=None)
    video_score: Mapped[int | None] = mapped_column(default=None)
    audio_score: Mapped[int | None] = mapped_column(default=None)
    gan_fingerprint: Mapped[int | None] = mapped_column(default=None)
    temporal_consistency: Mapped[int | None] = mapped_column(default=None)
    explanation: Mapped[str] = mapped_column(Text, default="")
    media_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    # Every analyzer's findings, kept for the record and for later re-fusion.
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    gps_latitude: Mapped[float | None] = mapped_column(default=None)
    gps_longitude: Mapped[float | None] = mapped_column(default=None)

    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The batch upload this scan came in with, if any.
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("batches.id", ondelete="SET NULL"), default=None, index=True
    )


class MediaEvidence(UUIDPrimaryKey, Base):
    """A picture that shows evidence (error-level heatmap, faces, spectrum...)."""

    __tablename__ = "media_evidence"

    scan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media_scans.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(40))
    caption: Mapped[str] = mapped_column(Text, default="")
    media_type: Mapped[str] = mapped_column(String(40), default="image/png")
    content: Mapped[bytes] = mapped_column(LargeBinary)


# How workers claim and keep media scans (see veriscan/leases.py).
LEASES = Leases(MediaScan, waiting=MediaStatus.PENDING.value, running=MediaStatus.PROCESSING.value)
