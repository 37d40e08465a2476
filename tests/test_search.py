"""Search ranking on a constructed catalog, on SQLite (FTS5) and PostgreSQL (tsvector):
relevance first, then consumers, quality and freshness, each shown to decide an order; the
words, the filters and the parts of the score."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from mesh_platform.catalog import Catalog
from mesh_platform.marketplace import search
from mesh_platform.marketplace.models import MarketProduct
from mesh_platform.marketplace.records import ColumnRecord, ProductRecord
from mesh_platform.marketplace.search import WEIGHTS
from mesh_platform.marketplace.sync import write_products
from tests import test_marketplace_catalog

catalog = test_marketplace_catalog.catalog  # the fixture: SQLite, then PostgreSQL
HOUR = 3600.0
NOW = time.time()


def record(
    name: str,
    description: str,
    columns: tuple[tuple[str, str], ...] = (("id", "Key"),),
    *,
    visibility: str = "published",
    owners: tuple[str, ...] = (),
    tags: dict[str, str] | None = None,
) -> ProductRecord:
    """A product as the sync would record it."""
    domain, _, product = name.partition(".")
    return ProductRecord(
        name=name,
        domain=domain,
        product=product,
        visibility=visibility,
        description=description,
        version="1.0.0",
        team=f"{domain}-team",
        owners=owners or (f"team:{domain}-team",),
        on_call=None,
        tags=tags or {},
        freshness_hours=24.0,
        schedule=None,
        automation=None,
        inputs={},
        steps=(),
        rules=(),
        columns=tuple(ColumnRecord(c, "string", d, "", (), ()) for c, d in columns),
    )


def facts(
    catalog: Catalog,
    name: str,
    *,
    consumers: int = 0,
    quality: float | None = 100.0,
    age_hours: float | None = 1.0,
) -> None:
    """Set what ranking reads besides the words: consumers, quality score, last run."""
    with catalog.session() as session:
        session.execute(
            update(MarketProduct)
            .where(MarketProduct.name == name)
            .values(
                consumer_count=consumers,
                quality_score=quality,
                last_materialized_epoch=None if age_hours is None else NOW - age_hours * HOUR,
            )
        )


def fill(catalog: Catalog, *records: ProductRecord) -> None:
    with catalog.session() as session:
        write_products(session, records)


def ranked(catalog: Catalog, words: str, **kw: object) -> list[str]:
    return [h.product for h in search(catalog, words, now=NOW, **kw)]  # type: ignore[arg-type]


@pytest.fixture
def invoices(catalog: Catalog) -> Iterator[Catalog]:
    """Products about invoices: two pairs alike in words, differing in one ranking fact."""
    same = "Invoices issued to customers, one row per invoice line."
    fill(
        catalog,
        record("billing.invoices", "Every invoice the company issued."),
        record(
            "ops.shipments",
            "Parcels shipped.",
            (("parcel", "Parcel number"), ("ref", "Reference of the invoice it ships")),
        ),
        record("sales.popular", same),
        record("sales.unused", same),
        record("audit.trusted", same),
        record("audit.flaky", same),
        record("ledger.fresh", same),
        record("ledger.stale", same),
    )
    facts(catalog, "billing.invoices", consumers=0, quality=None, age_hours=None)
    facts(catalog, "ops.shipments", consumers=12, quality=100, age_hours=1)
    facts(catalog, "sales.popular", consumers=4)
    facts(catalog, "sales.unused", consumers=0)
    facts(catalog, "audit.trusted", consumers=1, quality=98)
    facts(catalog, "audit.flaky", consumers=1, quality=40)
    facts(catalog, "ledger.fresh", consumers=1, quality=80, age_hours=2)
    facts(catalog, "ledger.stale", consumers=1, quality=80, age_hours=24 * 5)
    yield catalog


def test_relevance_ranks_first_then_consumers_quality_and_freshness(invoices: Catalog) -> None:
    order = ranked(invoices, "invoice")
    # A product named for the word beats one that mentions it in a column's description,
    # although the latter has twelve consumers, perfect quality and is fresh.
    assert order.index("billing.invoices") < order.index("ops.shipments")
    assert order[-1] == "ops.shipments"
    # Equally relevant pairs: the one better on a single fact ranks higher.
    assert order.index("sales.popular") < order.index("sales.unused")
    assert order.index("audit.trusted") < order.index("audit.flaky")
    assert order.index("ledger.fresh") < order.index("ledger.stale")

    hits = {h.product: h for h in search(invoices, "invoice", now=NOW)}
    assert hits["billing.invoices"].relevance == 1.0
    assert hits["ops.shipments"].relevance < 0.5
    popular, unused = hits["sales.popular"], hits["sales.unused"]
    assert popular.relevance == unused.relevance
    assert (popular.consumers, unused.consumers) == (pytest.approx(4 / 6, abs=1e-3), 0.0)
    assert (hits["audit.trusted"].quality, hits["audit.flaky"].quality) == (0.98, 0.4)
    assert hits["ledger.fresh"].freshness == 1.0
    assert hits["ledger.stale"].freshness == pytest.approx(24 / 120, abs=1e-3)
    # Unknown quality is neutral; never materialized is not fresh.
    assert (hits["billing.invoices"].quality, hits["billing.invoices"].freshness) == (0.5, 0.0)
    for hit in hits.values():  # the score is its parts, weighed
        parts = sum(WEIGHTS[k] * getattr(hit, k) for k in WEIGHTS)
        assert hit.score == pytest.approx(parts, abs=1e-3)
        assert set(hit.to_dict()) >= {"product", "score", *WEIGHTS, "owners", "domain"}


def test_each_fact_alone_changes_the_order(invoices: Catalog) -> None:
    """Swapping one fact between two equally relevant products swaps their order."""
    assert ranked(invoices, "invoice", domain="sales") == ["sales.popular", "sales.unused"]
    facts(invoices, "sales.unused", consumers=9)
    assert ranked(invoices, "invoice", domain="sales") == ["sales.unused", "sales.popular"]
    assert ranked(invoices, "invoice", domain="audit") == ["audit.trusted", "audit.flaky"]
    facts(invoices, "audit.flaky", consumers=1, quality=100)
    assert ranked(invoices, "invoice", domain="audit") == ["audit.flaky", "audit.trusted"]
    assert ranked(invoices, "invoice", domain="ledger") == ["ledger.fresh", "ledger.stale"]
    facts(invoices, "ledger.fresh", consumers=1, quality=80, age_hours=24 * 9)
    assert ranked(invoices, "invoice", domain="ledger") == ["ledger.stale", "ledger.fresh"]


def test_words_stems_prefixes_and_filters(catalog: Catalog) -> None:
    fill(
        catalog,
        record(
            "sales.customer_revenue",
            "Net revenue per ordering customer.",
            (("c_name", "Customer name"), ("revenue", "Net revenue")),
            tags={"tier": "gold"},
            owners=("team:sales-analytics", "sales-data@example.com"),
        ),
        record("finance.forecast", "Expected turnover next quarter.", (("expected", "Amount"),)),
        record("finance.secret_margin", "Margins by customer.", visibility="internal"),
    )
    for name in ("sales.customer_revenue", "finance.forecast", "finance.secret_margin"):
        facts(catalog, name)
    assert ranked(catalog, "revenues") == ["sales.customer_revenue"]  # stemmed
    assert ranked(catalog, "cust") == ["sales.customer_revenue"]  # a prefix
    assert ranked(catalog, "customer revenue") == ["sales.customer_revenue"]
    # Any word may match: the product with both words first, then the one with a single one.
    assert ranked(catalog, "customer turnover") == ["sales.customer_revenue", "finance.forecast"]
    assert ranked(catalog, "c_name") == ["sales.customer_revenue"]  # a column's name
    assert ranked(catalog, "gold") == ["sales.customer_revenue"]  # a tag
    assert ranked(catalog, "customer") == ["sales.customer_revenue"]
    assert ranked(catalog, "customer", viewer="finance") == [
        "sales.customer_revenue",
        "finance.secret_margin",
    ]
    assert ranked(catalog, "", domain="finance") == ["finance.forecast"]
    assert ranked(catalog, "", column="expected") == ["finance.forecast"]
    assert ranked(catalog, "", tag="tier:gold") == ["sales.customer_revenue"]
    assert ranked(catalog, "", owner="sales-data@example.com") == ["sales.customer_revenue"]
    assert ranked(catalog, "", owner="sales-analytics") == ["sales.customer_revenue"]
    assert len(ranked(catalog, "", limit=1)) == 1
    assert ranked(catalog, "nothing-like-this") == []
    assert ranked(catalog, "'\"*-:()") == ranked(catalog, "")  # no word, no syntax: all
    assert ranked(catalog, "the of and which") == ranked(catalog, "")  # stop words only: all
    # FTS syntax is just words: `OR` is a stop word, `"` and `*` separate words.
    assert ranked(catalog, 'zzz" OR "margins*') == ranked(catalog, "margins")
    assert ranked(catalog, 'customer" NEAR("margins') == ["sales.customer_revenue"]


def test_search_finds_nothing_in_an_empty_catalog(tmp_path: Path) -> None:
    empty = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    assert search(empty, "anything") == []
