"""Subscriptions: a consumer domain's request for, and access to, another domain's product.

Revision ID: 0007_subscriptions
Revises: 0005_audit_log
Create Date: 2026-11-26

A branch of its own (independent of the marketplace's and versions' tables).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_subscriptions"
down_revision = "0005_audit_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `subscriptions`, one row per (consumer, product)."""
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("producer", sa.String(100), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("columns", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("route", sa.String(20), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.UniqueConstraint("consumer", "product", name="uq_subscriptions_consumer_product"),
    )
    op.create_index("ix_subscriptions_consumer", "subscriptions", ["consumer"])
    op.create_index("ix_subscriptions_product", "subscriptions", ["product"])
    op.create_index("ix_subscriptions_producer", "subscriptions", ["producer"])
    op.create_index("ix_subscriptions_state_route", "subscriptions", ["state", "route"])


def downgrade() -> None:
    """Drop `subscriptions` (their history stays in the audit log)."""
    op.drop_table("subscriptions")
