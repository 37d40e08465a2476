"""Product versions (what produced each Delta version) and holds placed by rollbacks.

Revision ID: 0008_versions
Revises: 0005_audit_log
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_versions"
down_revision = "0005_audit_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `product_versions` and `product_holds` (one active hold per product)."""
    op.create_table(
        "product_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("delta_version", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code_version", sa.String(100), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("partition", sa.String(200), nullable=True),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.UniqueConstraint("product", "delta_version", name="uq_product_versions_version"),
    )
    op.create_index("ix_product_versions_product", "product_versions", ["product"])
    op.create_table(
        "product_holds",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rolled_back_to", sa.Integer(), nullable=False),
        sa.Column("delta_version", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(200), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_product_holds_product", "product_holds", ["product"])
    active = sa.text("released_at IS NULL")
    op.create_index(
        "uq_product_holds_active",
        "product_holds",
        ["product"],
        unique=True,
        sqlite_where=active,
        postgresql_where=active,
    )


def downgrade() -> None:
    """Drop both tables (the record of who produced each version is lost; tables keep their
    Delta history)."""
    op.drop_table("product_holds")
    op.drop_table("product_versions")
