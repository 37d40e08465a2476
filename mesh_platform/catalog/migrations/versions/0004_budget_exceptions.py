"""Budget waivers: a domain's time-limited waiver of a limit of the budget standard.

Revision ID: 0004_budget_exceptions
Revises: 0003_run_costs
Create Date: 2026-12-16
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_budget_exceptions"
down_revision = "0003_run_costs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `budget_exceptions`, indexed for "the active exceptions of a domain"."""
    op.create_table(
        "budget_exceptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("domain", sa.String(100), nullable=False),
        sa.Column("limit_name", sa.String(30), nullable=False),
        sa.Column("product", sa.String(200), nullable=True),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("granted_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_budget_exceptions_domain_until", "budget_exceptions", ["domain", "until"])


def downgrade() -> None:
    """Drop `budget_exceptions` (the grants are lost; breaches are notified again)."""
    op.drop_table("budget_exceptions")
