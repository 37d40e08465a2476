"""Run costs: what each materialization and development run consumed, and its price.

Revision ID: 0003_run_costs
Revises: 0002_outbox_retries
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_run_costs"
down_revision = "0002_outbox_retries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `run_costs`, unique on (run_id, product, kind) so a retry is not counted twice."""
    op.create_table(
        "run_costs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("domain", sa.String(100), nullable=False),
        sa.Column("team", sa.String(100), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("partition", sa.String(200), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wall_seconds", sa.Float(), nullable=False),
        sa.Column("cpu_seconds", sa.Float(), nullable=False),
        sa.Column("process_peak_memory_mb", sa.Float(), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
        sa.Column("rows_written", sa.BigInteger(), nullable=False),
        sa.Column("bytes_written", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.Float(), nullable=False),
        sa.Column("dollars", sa.Float(), nullable=False),
        sa.UniqueConstraint("run_id", "product", "kind", name="uq_run_costs_run_product_kind"),
    )
    op.create_index("ix_run_costs_product", "run_costs", ["product"])
    op.create_index("ix_run_costs_domain", "run_costs", ["domain"])
    op.create_index("ix_run_costs_started_at", "run_costs", ["started_at"])


def downgrade() -> None:
    """Drop `run_costs` (the recorded costs are lost; the materializations keep theirs)."""
    op.drop_table("run_costs")
