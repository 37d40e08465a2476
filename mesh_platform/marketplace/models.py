"""The marketplace's catalog tables: products as the specs describe them, plus what ran.

Filled by `sync.sync_catalog` (migration `0006_marketplace`). Lists held by one product and
read only with it (owners, steps, rules, inputs) are JSON text; what search filters on
(columns, tags, owners) has its own indexed table. The full-text index is not a model: it is
an FTS5 table on SQLite and a `tsvector` table on PostgreSQL (`fulltext.py`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mesh_platform.catalog.models import Base, utcnow

# A check's pass rate (and a product's quality score) is over its last WINDOW evaluations,
# as `mesh quality` computes it.
WINDOW = 30


def _product_fk() -> ForeignKey:
    """A row's product; it goes with its product."""
    return ForeignKey("market_products.id", ondelete="CASCADE")


class MarketProduct(Base):
    """One product of the mesh: its spec's contract and operations, and what ran lately."""

    __tablename__ = "market_products"
    # What ranking reads of every match, in one index: no product row is read to rank.
    __table_args__ = (
        Index(
            "ix_market_products_rank",
            "id",
            "visibility",
            "domain",
            "freshness_hours",
            "consumer_count",
            "quality_score",
            "last_materialized_epoch",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # domain.product
    domain: Mapped[str] = mapped_column(String(100), index=True)
    product: Mapped[str] = mapped_column(String(100))
    visibility: Mapped[str] = mapped_column(String(20))  # published | internal
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[str] = mapped_column(String(30))
    team: Mapped[str] = mapped_column(String(100))
    owners: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    on_call: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tags: Mapped[str] = mapped_column(Text, default="{}")  # JSON: the spec's product tags
    freshness_hours: Mapped[float | None] = mapped_column(Float, nullable=True)  # the SLA
    schedule: Mapped[str | None] = mapped_column(String(100), nullable=True)
    automation: Mapped[str | None] = mapped_column(String(30), nullable=True)
    inputs: Mapped[str] = mapped_column(Text, default="{}")  # JSON: port -> domain.product
    steps: Mapped[str] = mapped_column(Text, default="[]")  # JSON: name, kind, detail, schema
    rules: Mapped[str] = mapped_column(Text, default="[]")  # JSON: the spec's quality rules
    spec_path: Mapped[str] = mapped_column(String(500), default="")
    impact: Mapped[str] = mapped_column(Text, default="{}")  # JSON: `impact.impact_facts`
    spec_hash: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Refreshed on every sync (not part of the spec): what ranking and the page read.
    consumer_count: Mapped[int] = mapped_column(Integer, default=0)
    quality_score: Mapped[float | None] = mapped_column(Float, nullable=True)  # 0-100
    last_materialized_epoch: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_row_count: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    delta_version: Mapped[int | None] = mapped_column(Integer, nullable=True)


class MarketColumn(Base):
    """A column of a product's contract: written type, meaning, formula, tags, sources."""

    __tablename__ = "market_columns"
    __table_args__ = (Index("ix_market_columns_name", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(_product_fk(), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))  # lower case (spec names are)
    type: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text, default="")
    formula: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    sources: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [domain.product, column]
    uncleared: Mapped[str] = mapped_column(Text, default="")  # the access policy's mark


class MarketTag(Base):
    """A tag a product can be found by: `pii` (a column's), `tier` and `tier:gold` (its own)."""

    __tablename__ = "market_tags"
    __table_args__ = (Index("ix_market_tags_tag", "tag", "product_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(_product_fk(), index=True)
    tag: Mapped[str] = mapped_column(String(200))


class MarketOwner(Base):
    """An owner of a product (`team:sales-analytics`, an email), as the spec names them."""

    __tablename__ = "market_owners"
    __table_args__ = (Index("ix_market_owners_owner", "owner", "product_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(_product_fk(), index=True)
    owner: Mapped[str] = mapped_column(String(200))


class MarketInput(Base):
    """A product reads `input` (`domain.product`): the lineage graph, downstream included."""

    __tablename__ = "market_inputs"
    __table_args__ = (Index("ix_market_inputs_input", "input", "product_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(_product_fk(), index=True)
    input: Mapped[str] = mapped_column(String(200))


class MarketConsumer(Base):
    """Who consumes a product: another domain's product reading it, or a subscription."""

    __tablename__ = "market_consumers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(_product_fk(), index=True)
    consumer: Mapped[str] = mapped_column(String(200))  # domain.product, or a domain
    consumer_domain: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # product | subscription
    visibility: Mapped[str] = mapped_column(String(20))  # the consumer's: who may see its name
    columns: Mapped[str] = mapped_column(Text, default="[]")  # JSON: the columns it reads


class MarketMaterialization(Base):
    """One committed version of a product's Delta table, with the run that wrote it."""

    __tablename__ = "market_materializations"
    __table_args__ = (
        UniqueConstraint("product_id", "delta_version", name="uq_market_materializations"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(_product_fk(), index=True)
    delta_version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    operation: Mapped[str] = mapped_column(String(50), default="")
    rows_written: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    row_count: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class MarketFailingSample(Base):
    """The latest failing evaluation of a check: how many rows failed and a few of them."""

    __tablename__ = "market_failing_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(_product_fk(), index=True)
    check_name: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    failing_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failing_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    sample: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
