"""Each user's number of unread notifications, kept by triggers

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An unread notification counts; it stops counting when read or deleted (a user's deletion
# cascades here too: the triggers fire for rows removed by a foreign key on both
# databases), and counts again if marked unread. The count row goes with its user.
SQLITE = [
    """CREATE TRIGGER notification_counts_insert AFTER INSERT ON notifications
    WHEN new.read_at IS NULL BEGIN
        INSERT INTO notification_counts (user_id, unread) VALUES (new.user_id, 1)
        ON CONFLICT (user_id) DO UPDATE SET unread = unread + 1;
    END""",
    """CREATE TRIGGER notification_counts_delete AFTER DELETE ON notifications
    WHEN old.read_at IS NULL BEGIN
        UPDATE notification_counts SET unread = unread - 1 WHERE user_id = old.user_id;
    END""",
    """CREATE TRIGGER notification_counts_update AFTER UPDATE OF read_at, user_id ON notifications
    WHEN (old.read_at IS NULL) IS NOT (new.read_at IS NULL) OR new.user_id IS NOT old.user_id
    BEGIN
        UPDATE notification_counts SET unread = unread - 1
        WHERE user_id = old.user_id AND old.read_at IS NULL;
        INSERT INTO notification_counts (user_id, unread) SELECT new.user_id, 1
        WHERE new.read_at IS NULL
        ON CONFLICT (user_id) DO UPDATE SET unread = unread + 1;
    END""",
]
POSTGRES = [
    """CREATE FUNCTION notification_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            IF OLD.read_at IS NULL THEN
                UPDATE notification_counts SET unread = unread - 1 WHERE user_id = OLD.user_id;
            END IF;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            IF NEW.read_at IS NULL THEN
                INSERT INTO notification_counts (user_id, unread) VALUES (NEW.user_id, 1)
                ON CONFLICT (user_id) DO UPDATE SET unread = notification_counts.unread + 1;
            END IF;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER notification_counts_insert_delete AFTER INSERT OR DELETE ON notifications
    FOR EACH ROW EXECUTE FUNCTION notification_counts_keep()""",
    """CREATE TRIGGER notification_counts_update AFTER UPDATE OF read_at, user_id ON notifications
    FOR EACH ROW WHEN ((OLD.read_at IS NULL) IS DISTINCT FROM (NEW.read_at IS NULL)
        OR NEW.user_id IS DISTINCT FROM OLD.user_id)
    EXECUTE FUNCTION notification_counts_keep()""",
]


def upgrade() -> None:
    op.create_table(
        "notification_counts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("unread", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.execute(
        "INSERT INTO notification_counts (user_id, unread) "
        "SELECT user_id, count(*) FROM notifications WHERE read_at IS NULL GROUP BY user_id"
    )
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER notification_counts_update ON notifications")
        op.execute("DROP TRIGGER notification_counts_insert_delete ON notifications")
        op.execute("DROP FUNCTION notification_counts_keep()")
    else:
        for name in ("update", "delete", "insert"):
            op.execute(f"DROP TRIGGER notification_counts_{name}")
    op.drop_table("notification_counts")
