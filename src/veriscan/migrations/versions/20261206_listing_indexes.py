"""Listing indexes: scans and files in each order their listings offer

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 00:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in veriscan.malware.models (copied: a migration does not change when the models do).
SCAN_DATE_SQL = "coalesce(completed_at, started_at, created_at)"
RATIO_SQL = "CASE WHEN with_verdict > 0 THEN malicious * 1.0 / with_verdict ELSE -1.0 END"


MEDIA_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_media_scans_user_date", ("user_id", "created_at", "id")),
    ("ix_media_scans_user_confidence", ("user_id", "confidence", "created_at", "id")),
    ("ix_media_scans_user_risk", ("user_id", "risk_score", "created_at", "id")),
    ("ix_media_scans_date", ("created_at", "id")),
    ("ix_media_scans_confidence", ("confidence", "created_at", "id")),
    ("ix_media_scans_risk", ("risk_score", "created_at", "id")),
)


def upgrade() -> None:
    op.create_index("ix_files_user_uploaded", "files", ["user_id", "upload_date", "id"])
    for name, columns in MEDIA_INDEXES:
        op.create_index(name, "media_scans", list(columns))
    name_key = sa.text("(lower(file_name))")
    op.create_index(
        "ix_media_scans_user_name",
        "media_scans",
        [
            sa.column("user_id"),
            name_key,
            sa.column("created_at"),
            sa.column("id"),
            sa.column("file_name"),
        ],
    )
    op.create_index(
        "ix_media_scans_name",
        "media_scans",
        [name_key, sa.column("created_at"), sa.column("id"), sa.column("file_name")],
    )
    op.create_index(
        "ix_malware_scans_user_scan_date",
        "malware_scans",
        # The key's columns too: PostgreSQL then reads a page from the index alone.
        [
            sa.column("user_id"),
            sa.text(f"({SCAN_DATE_SQL})"),
            sa.column("id"),
            sa.column("completed_at"),
            sa.column("started_at"),
            sa.column("created_at"),
        ],
    )
    op.create_index(
        "ix_malware_scans_user_ratio",
        "malware_scans",
        [
            sa.column("user_id"),
            sa.text(f"({RATIO_SQL})"),
            sa.column("malicious"),
            sa.column("id"),
            sa.column("with_verdict"),
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_files_user_uploaded", table_name="files")
    for name in ("ix_media_scans_name", "ix_media_scans_user_name"):
        op.drop_index(name, table_name="media_scans")
    for name, _ in reversed(MEDIA_INDEXES):
        op.drop_index(name, table_name="media_scans")
    op.drop_index("ix_malware_scans_user_ratio", table_name="malware_scans")
    op.drop_index("ix_malware_scans_user_scan_date", table_name="malware_scans")
