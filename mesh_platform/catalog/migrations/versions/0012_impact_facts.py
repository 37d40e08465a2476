"""Each catalog product keeps what impact analysis reads beyond its contract.

Revision ID: 0012_impact_facts
Revises: 0011_uncleared_marks
Create Date: 2026-11-28

`market_products.impact` (JSON, `marketplace/impact.py` `impact_facts`): the product's own
owners, each column's formula, its Python steps, whether its lineage is known and the input
columns its SQL names. `mesh impact` answers from the catalog with them, without planning.
Every product's digest is cleared: the next sync rewrites them all with their facts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_impact_facts"
down_revision = "0011_uncleared_marks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add `market_products.impact`; force a rewrite of every product."""
    op.add_column(
        "market_products",
        sa.Column("impact", sa.Text(), nullable=False, server_default="{}"),
    )
    op.execute("UPDATE market_products SET spec_hash = ''")


def downgrade() -> None:
    """Drop `market_products.impact`."""
    with op.batch_alter_table("market_products") as batch:
        batch.drop_column("impact")
