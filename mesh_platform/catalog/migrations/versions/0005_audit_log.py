"""The append-only audit log of governance actions (subscriptions, access, rollbacks).

Revision ID: 0005_audit_log
Revises: 0004_budget_exceptions
Create Date: 2026-11-26

Later features branch from here (their tables are independent); `upgrade heads` applies all.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_audit_log"
down_revision = "0004_budget_exceptions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `audit_log`, indexed for "the history of one subject"."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_subject_at", "audit_log", ["subject", "at"])


def downgrade() -> None:
    """Drop `audit_log` (the history of decisions is lost)."""
    op.drop_table("audit_log")
