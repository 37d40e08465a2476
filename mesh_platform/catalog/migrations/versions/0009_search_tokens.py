"""The search index holds the platform's own tokens (Snowball stems, stop words left out).

Revision ID: 0009_search_tokens
Revises: 0006_marketplace
Create Date: 2026-11-27

`mesh_platform/marketplace/analysis.py` stems the words in Python for both catalogs, so the
index only splits them: FTS5 `unicode61` (no more `porter`), and PostgreSQL's documents are
written with the `simple` configuration. The index is emptied and every product's digest
cleared: the next sync (`mesh search`, `mesh show`, the catalog sensor) re-indexes them all.
"""

from alembic import op

revision = "0009_search_tokens"
down_revision = "0006_marketplace"
branch_labels = None
depends_on = None

_FIELDS = "name, description, columns, column_text, tags"


def upgrade() -> None:
    """Recreate the FTS5 table without `porter`, empty PostgreSQL's, force a re-index."""
    _recreate("unicode61")


def downgrade() -> None:
    """Back to FTS5 with `porter` (re-indexed by the next sync as well)."""
    _recreate("porter unicode61")


def _recreate(tokenizer: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DELETE FROM market_search_pg")
    else:
        op.execute("DROP TABLE market_search")
        op.execute(
            f"CREATE VIRTUAL TABLE market_search USING fts5({_FIELDS}, tokenize = '{tokenizer}')"
        )
    op.execute("UPDATE market_products SET spec_hash = ''")
