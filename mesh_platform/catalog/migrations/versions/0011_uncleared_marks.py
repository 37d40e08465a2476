"""Each catalog column keeps how a reader without clearance sees it (the product page's mark).

Revision ID: 0011_uncleared_marks
Revises: 0009_search_tokens
Create Date: 2026-11-28

The sync records the access policy's mark of each column (`masked (redact): ...`,
`hidden: ...`) with its record, so the product page reads it instead of loading the policy.
Every product's digest is cleared: the next sync (`mesh search`, `mesh show`, the catalog
sensor) rewrites them all with their marks.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_uncleared_marks"
down_revision = "0009_search_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add `market_columns.uncleared`; force a rewrite of every product."""
    op.add_column(
        "market_columns",
        sa.Column("uncleared", sa.Text(), nullable=False, server_default=""),
    )
    op.execute("UPDATE market_products SET spec_hash = ''")


def downgrade() -> None:
    """Drop `market_columns.uncleared`."""
    with op.batch_alter_table("market_columns") as batch:
        batch.drop_column("uncleared")
