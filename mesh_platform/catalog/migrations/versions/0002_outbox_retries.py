"""Outbox retries: when a message may next be attempted, and when it last was.

Revision ID: 0002_outbox_retries
Revises: 0001_operations
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_outbox_retries"
down_revision = "0001_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the retry schedule to `outbox`; messages not yet delivered are due at once."""
    op.add_column("outbox", sa.Column("next_attempt_at", sa.DateTime(timezone=True)))
    op.add_column("outbox", sa.Column("last_attempt_at", sa.DateTime(timezone=True)))
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    # Before this revision a failed message was retried only when its alert was raised again:
    # schedule it now, so the retry pass picks it up.
    op.execute(
        "UPDATE outbox SET next_attempt_at = created_at WHERE status IN ('pending', 'failed')"
    )


def downgrade() -> None:
    """Drop the retry schedule (messages that gave up become plain `failed` again)."""
    op.execute("UPDATE outbox SET status = 'failed' WHERE status IN ('gave_up', 'sending')")
    op.drop_index("ix_outbox_due", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("last_attempt_at")
        batch.drop_column("next_attempt_at")
