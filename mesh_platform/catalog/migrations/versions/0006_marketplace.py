"""The marketplace's catalog: products, columns, tags, owners, inputs, consumers, versions,
samples,
and the full-text index (FTS5 on SQLite, a `tsvector` with a GIN index on PostgreSQL).

Revision ID: 0006_marketplace
Revises: 0005_audit_log
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_marketplace"
down_revision = "0005_audit_log"
branch_labels = None
depends_on = None


def _product_fk() -> sa.Column:
    return sa.Column(
        "product_id",
        sa.Integer(),
        sa.ForeignKey("market_products.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    """Create the marketplace tables and the dialect's full-text index."""
    _create_products()
    _create_columns()
    _create_name_list("market_tags", "tag")
    _create_name_list("market_owners", "owner")
    _create_name_list("market_inputs", "input")
    _create_consumers()
    _create_materializations()
    _create_failing_samples()
    _create_search_index()


def _create_products() -> None:
    """`market_products`: one row per product, with what ranking reads in one index."""
    op.create_table(
        "market_products",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("domain", sa.String(100), nullable=False),
        sa.Column("product", sa.String(100), nullable=False),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.String(30), nullable=False),
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("owners", sa.Text(), nullable=False),
        sa.Column("on_call", sa.String(200), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("freshness_hours", sa.Float(), nullable=True),
        sa.Column("schedule", sa.String(100), nullable=True),
        sa.Column("automation", sa.String(30), nullable=True),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("steps", sa.Text(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("spec_path", sa.String(500), nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumer_count", sa.Integer(), nullable=False),
        sa.Column("quality_score", sa.Float(), nullable=True),
        sa.Column("last_materialized_epoch", sa.Float(), nullable=True),
        sa.Column("last_row_count", sa.BigInteger(), nullable=True),
        sa.Column("delta_version", sa.Integer(), nullable=True),
    )
    op.create_index("ix_market_products_domain", "market_products", ["domain"])
    # What ranking reads of every match, in one index: no product row is read to rank.
    op.create_index(
        "ix_market_products_rank",
        "market_products",
        [
            "id",
            "visibility",
            "domain",
            "freshness_hours",
            "consumer_count",
            "quality_score",
            "last_materialized_epoch",
        ],
    )


def _create_columns() -> None:
    """`market_columns`: the contract columns of each product, in order."""
    op.create_table(
        "market_columns",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _product_fk(),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("formula", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("sources", sa.Text(), nullable=False),
    )
    op.create_index("ix_market_columns_product_id", "market_columns", ["product_id"])
    op.create_index("ix_market_columns_name", "market_columns", ["name"])


def _create_name_list(table: str, column: str) -> None:
    """`market_tags`, `market_owners` or `market_inputs`: one name per row, found by name."""
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _product_fk(),
        sa.Column(column, sa.String(200), nullable=False),
    )
    op.create_index(f"ix_{table}_product_id", table, ["product_id"])
    op.create_index(f"ix_{table}_{column}", table, [column, "product_id"])


def _create_consumers() -> None:
    """`market_consumers`: who reads each product, and which of its columns."""
    op.create_table(
        "market_consumers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _product_fk(),
        sa.Column("consumer", sa.String(200), nullable=False),
        sa.Column("consumer_domain", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("columns", sa.Text(), nullable=False),
    )
    op.create_index("ix_market_consumers_product_id", "market_consumers", ["product_id"])


def _create_materializations() -> None:
    """`market_materializations`: each product's table versions, one per Delta version."""
    op.create_table(
        "market_materializations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _product_fk(),
        sa.Column("delta_version", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operation", sa.String(50), nullable=False),
        sa.Column("rows_written", sa.BigInteger(), nullable=True),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.UniqueConstraint("product_id", "delta_version", name="uq_market_materializations"),
    )
    op.create_index(
        "ix_market_materializations_product_id", "market_materializations", ["product_id"]
    )


def _create_failing_samples() -> None:
    """`market_failing_samples`: the failing rows each check kept."""
    op.create_table(
        "market_failing_samples",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _product_fk(),
        sa.Column("check_name", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failing_count", sa.Integer(), nullable=True),
        sa.Column("failing_percent", sa.Float(), nullable=True),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
    )
    op.create_index(
        "ix_market_failing_samples_product_id", "market_failing_samples", ["product_id"]
    )


def _create_search_index() -> None:
    """The full-text index: a `tsvector` with a GIN index on PostgreSQL, FTS5 on SQLite."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TABLE market_search_pg (id integer PRIMARY KEY REFERENCES "
            "market_products(id) ON DELETE CASCADE, document tsvector NOT NULL)"
        )
        op.execute("CREATE INDEX ix_market_search_pg ON market_search_pg USING GIN (document)")
    else:
        # Porter stemming over Unicode words: `revenues` finds `revenue`; `_` separates words.
        op.execute(
            "CREATE VIRTUAL TABLE market_search USING fts5(name, description, columns, "
            "column_text, tags, tokenize = 'porter unicode61')"
        )


def downgrade() -> None:
    """Drop the marketplace tables (the next sync rebuilds them from the specs)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE market_search_pg")
    else:
        op.execute("DROP TABLE market_search")
    for table in (
        "market_failing_samples",
        "market_materializations",
        "market_consumers",
        "market_inputs",
        "market_owners",
        "market_tags",
        "market_columns",
        "market_products",
    ):
        op.drop_table(table)
