"""The marketplace catalog kept in step with the specs, on SQLite and on the local PostgreSQL:
what it holds, who may see what (an internal product never shows to another domain), and
what a later sync adds, changes, removes or keeps."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine, text

from mesh_platform.access.subscriptions import approve, request_subscription
from mesh_platform.catalog import Catalog
from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import load_healthy
from mesh_platform.marketplace import ProductNotFound, product_page, search, sync_catalog
from mesh_platform.marketplace.sensor import build_catalog_sensor
from mesh_platform.ops.sensors import SensorMesh
from tests.mini_mesh import write_mesh

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"

ORDERS = """\
name: orders
description: Orders as the shop exports them, one row per order.
visibility: published
source: {landing: orders}
columns:
  - {name: id, type: bigint, description: Order number}
  - {name: amount, type: double, description: Amount paid in euros}
  - {name: customer, type: string, description: Who ordered, tags: [pii]}
"""
ORDER_STATS = """\
name: order_stats
description: Order count and turnover of the shop.
visibility: published
tags: {tier: gold}
inputs: {orders: orders}
steps:
  - sql: SELECT count(*) AS orders, sum(amount) AS turnover FROM orders
columns:
  - {name: orders, type: bigint, description: Number of orders}
  - {name: turnover, type: double, description: Sum of the amounts}
quality:
  - {rule: between, column: turnover, min: 0}
"""
BIG_ORDERS = """\
name: big_orders
description: The shop's staging of large orders, for its own use.
inputs: {orders: orders}
steps:
  - sql: SELECT id, amount FROM orders WHERE amount > 100
"""
FORECAST = """\
name: forecast
description: Finance's internal turnover forecast.
inputs: {stats: shop.order_stats}
steps:
  - sql: SELECT turnover * 1.1 AS expected FROM stats
"""
REACH = """\
name: reach
description: Which customers did marketing reach with an order?
visibility: published
inputs: {orders: shop.orders}
steps:
  - sql: SELECT o.id, o.amount FROM orders o WHERE o.customer IS NOT NULL
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
"""
MESH = {
    "shop": {"orders": ORDERS, "order_stats": ORDER_STATS, "big_orders": BIG_ORDERS},
    "finance": {"forecast": FORECAST},
    "marketing": {"reach": REACH},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    """An empty catalog on SQLite, or in a fresh database of the local PostgreSQL."""
    if request.param == "sqlite":
        opened = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
        yield opened
        opened.engine.dispose()
        return
    name = f"mesh_market_{uuid.uuid4().hex[:10]}"
    server = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    opened = Catalog(f"{PG_SERVER}/{name}")
    try:
        yield opened
    finally:
        opened.engine.dispose()
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        server.dispose()


def names(catalog: Catalog, words: str = "", **filters: str | None) -> list[str]:
    """The products a search finds, best first."""
    return [hit.product for hit in search(catalog, words, **filters)]  # type: ignore[arg-type]


def test_sync_records_every_product_and_shows_internal_ones_only_to_their_domain(
    catalog: Catalog, tmp_path: Path
) -> None:
    root = write_mesh(tmp_path / "mesh", MESH)
    report = sync_catalog(catalog, load_healthy(root))
    assert sorted(report.added) == [
        "finance.forecast",
        "marketing.reach",
        "shop.big_orders",
        "shop.order_stats",
        "shop.orders",
    ]
    published = ["marketing.reach", "shop.order_stats", "shop.orders"]
    assert sorted(names(catalog)) == published
    assert sorted(names(catalog, viewer="shop")) == sorted([*published, "shop.big_orders"])
    assert sorted(names(catalog, viewer="finance")) == sorted([*published, "finance.forecast"])
    # Words of an internal product's description find it only for its own domain.
    assert names(catalog, "staging large") == []
    assert names(catalog, "staging large", viewer="marketing") == []
    assert names(catalog, "staging large", viewer="shop") == ["shop.big_orders"]
    with pytest.raises(ProductNotFound, match=r"shop\.big_orders"):
        product_page(catalog, None, "shop.big_orders", viewer="marketing")
    assert product_page(catalog, None, "shop.big_orders", viewer="shop").visibility == "internal"

    orders = product_page(catalog, None, "shop.orders")
    assert [(c.name, c.type, c.tags) for c in orders.columns] == [
        ("id", "bigint", ()),
        ("amount", "double", ()),
        ("customer", "string", ("pii",)),
    ]
    assert orders.owners == ("team:shop-team",) and orders.team == "shop-team"
    # Consumers are other domains' products, with the columns their SQL reads (the filter's
    # `customer` too); the shop's own big_orders is lineage, not a consumer.
    assert [(c.consumer, c.columns) for c in orders.consumers] == [
        ("marketing.reach", ("amount", "customer", "id"))
    ]
    assert orders.consumer_count == 1 and orders.hidden_consumers == 0
    # Another domain sees that the shop's internal product reads orders only as a count.
    assert orders.downstream == ("marketing.reach", "shop.order_stats")
    assert product_page(catalog, None, "shop.orders", viewer="shop").downstream == (
        "marketing.reach",
        "shop.big_orders",
        "shop.order_stats",
    )
    stats = product_page(catalog, None, "shop.order_stats")
    assert stats.consumers == () and stats.hidden_consumers == 1  # finance's internal forecast
    stats_as_finance = product_page(catalog, None, "shop.order_stats", viewer="finance")
    assert [c.consumer for c in stats_as_finance.consumers] == ["finance.forecast"]
    assert stats_as_finance.consumers[0].columns == ("turnover",)
    assert [(r.name, r.severity) for r in stats.rules] == [("between_turnover", "error")]
    assert stats.steps[0].schema == {"orders": "bigint", "turnover": "double"}
    assert stats.sla_hours is None and stats.freshness == "never"

    # A column's meaning followed upstream across domains, formula by formula.
    forecast = product_page(catalog, None, "finance.forecast", viewer="finance")
    expected = forecast.columns[0]
    assert expected.formula == "turnover * 1.1"
    assert [(o.product, o.column, o.formula, o.depth) for o in expected.upstream] == [
        ("shop.order_stats", "turnover", "SUM(amount)", 1),
        ("shop.orders", "amount", "", 2),
    ]
    assert names(catalog, tag="pii") == ["shop.orders"]
    assert names(catalog, tag="tier:gold") == ["shop.order_stats"]
    assert names(catalog, column="turnover") == ["shop.order_stats"]
    assert names(catalog, domain="marketing") == ["marketing.reach"]
    assert names(catalog, owner="shop-team") == ["shop.order_stats", "shop.orders"]


def test_a_later_sync_writes_only_what_changed_and_keeps_a_product_broken_by_a_spec_error(
    catalog: Catalog, tmp_path: Path
) -> None:
    root = write_mesh(tmp_path / "mesh", MESH)
    sync_catalog(catalog, load_healthy(root))
    again = sync_catalog(catalog, load_healthy(root))
    assert (again.added, again.updated, again.removed, again.unchanged) == ((), (), (), 5)

    stats = root / "domains" / "shop" / "products" / "order_stats.yaml"
    stats.write_text(ORDER_STATS.replace("Order count and turnover", "Basket totals"))
    (root / "domains" / "marketing" / "products" / "reach.yaml").unlink()
    changed = sync_catalog(catalog, load_healthy(root))
    assert changed.updated == ("shop.order_stats",)
    assert changed.removed == ("marketing.reach",)
    assert names(catalog, "basket") == ["shop.order_stats"]
    assert names(catalog, "count") == []  # the old description's words are gone
    assert product_page(catalog, None, "shop.orders").consumers == ()
    with pytest.raises(ProductNotFound):
        product_page(catalog, None, "marketing.reach")

    # A spec error leaves the product out of the mesh, not out of the catalog: consumers keep
    # finding its last good contract while the producer fixes it.
    stats.write_text(ORDER_STATS.replace("sum(amount)", "sum(amount_typo)"))
    broken = load_healthy(root)
    assert ("shop", "order_stats") in broken.excluded
    kept = sync_catalog(catalog, broken)
    assert "shop.order_stats" not in kept.removed
    assert names(catalog, "basket") == ["shop.order_stats"]


def test_approved_subscriptions_are_consumers_once_per_domain(
    catalog: Catalog, tmp_path: Path
) -> None:
    root = write_mesh(tmp_path / "mesh", MESH)
    sync_catalog(catalog, load_healthy(root))
    for domain, columns in (("finance", ["amount"]), ("marketing", ["id"])):
        asked = request_subscription(
            catalog, domain, "shop.orders", actor=f"ana@{domain}", purpose="audit", columns=columns
        )
        approve(catalog, asked.subscription.id, actor="team:shop-team", reason="fine")
    request_subscription(catalog, "finance", "shop.order_stats", actor="ana@finance")  # pending
    sync_catalog(catalog, load_healthy(root))
    orders = product_page(catalog, None, "shop.orders")
    # marketing's subscription is what lets marketing.reach read: one consumer, not two.
    assert [(c.consumer, c.kind, c.columns) for c in orders.consumers] == [
        ("finance", "subscription", ("amount",)),
        ("marketing.reach", "product", ("amount", "customer", "id")),
    ]
    assert orders.consumer_count == 2
    assert product_page(catalog, None, "shop.order_stats").consumer_count == 1  # not pending


def test_the_catalog_sensor_syncs_on_its_tick(tmp_path: Path) -> None:
    root = write_mesh(tmp_path / "mesh", MESH)
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    sensor = build_catalog_sensor(SensorMesh(root))
    lake = tmp_path / "lake"
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            resources={
                "catalog": CatalogResource(url=url),
                "lakehouse": Lakehouse(root=str(lake), landing_root=str(tmp_path / "landing")),
            },
        )
        result = sensor(context)
    assert isinstance(result, dg.SkipReason)
    assert "5 added" in (result.skip_message or "")
    assert sorted(names(Catalog.open(url))) == [
        "marketing.reach",
        "shop.order_stats",
        "shop.orders",
    ]


def test_two_syncs_at_once_both_succeed(catalog: Catalog, tmp_path: Path) -> None:
    """The sensor and a command syncing together: the loser of the race retries."""
    if catalog.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: no race to lose")
    mesh = load_healthy(write_mesh(tmp_path / "mesh", MESH))
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: sync_catalog(catalog, mesh), range(2)))
    assert sorted(len(r.added) for r in reports) in ([0, 5], [5, 5])
    assert sorted(names(catalog, viewer="shop")) == [
        "marketing.reach",
        "shop.big_orders",
        "shop.order_stats",
        "shop.orders",
    ]
