"""VirusTotal continuations: a scan's pending VirusTotal step, keys' allowances

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import veriscan.core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCAN_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("vt_step", sa.String(16)),
    ("vt_key", sa.String(24)),
    ("vt_due_at", veriscan.core.db.UTCDateTime()),
    ("vt_granted_at", veriscan.core.db.UTCDateTime()),
    ("vt_failing_since", veriscan.core.db.UTCDateTime()),
    ("vt_release", sa.Text()),
    ("verdict", sa.String(32)),
)
KEY_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("fingerprint", sa.String(24)),
    ("allowed_per_minute", sa.Integer()),
    ("allowed_per_hour", sa.Integer()),
    ("allowed_per_day", sa.Integer()),
    ("allowance_read_at", veriscan.core.db.UTCDateTime()),
    ("served_at", veriscan.core.db.UTCDateTime()),
)


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): SQLite adds a nullable column in place, keeping
    # the table's triggers and the rows that reference it.
    for name, kind in SCAN_COLUMNS:
        op.add_column("malware_scans", sa.Column(name, kind, nullable=True))
    op.create_index("ix_malware_scans_vt_key_due", "malware_scans", ["vt_key", "vt_due_at"])
    for name, kind in KEY_COLUMNS:
        op.add_column("api_keys", sa.Column(name, kind, nullable=True))
    op.create_index("ix_api_keys_fingerprint", "api_keys", ["fingerprint"])


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35+, PostgreSQL): a batch copy would
    # rewrite malware_scans' schema text, which migration 0005's downgrade edits by hand.
    op.drop_index("ix_api_keys_fingerprint", table_name="api_keys")
    for name, _ in reversed(KEY_COLUMNS):
        op.execute(f"ALTER TABLE api_keys DROP COLUMN {name}")
    op.drop_index("ix_malware_scans_vt_key_due", table_name="malware_scans")
    for name, _ in reversed(SCAN_COLUMNS):
        op.execute(f"ALTER TABLE malware_scans DROP COLUMN {name}")
