"""Marks of what the catalog was brought in step with (migrations applied, last sync).

Revision ID: 0010_catalog_marks
Revises: 0005_audit_log
Create Date: 2026-11-28

`Catalog` skips Alembic when the `migrations` mark equals the digest of the migration scripts
it ships; `mesh search` and `mesh show` skip the marketplace sync when the `sync` mark equals
the digest of the mesh's sources and runs (docs/catalog.md).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_catalog_marks"
down_revision = "0005_audit_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `catalog_marks`."""
    op.create_table(
        "catalog_marks",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop `catalog_marks`."""
    op.drop_table("catalog_marks")
