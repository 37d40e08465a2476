"""The business domains' gold products, checked against independent computations.

The whole mesh is generated (TPC-H, scale 0.01) and materialized once per session through the
orchestration, as `mesh` does it. Each TPC-H-derived product is then recomputed here with the
polars DataFrame API straight from the landing parquet files (no SQL), and compared with its
Delta table: same columns, same rows, numbers within a relative 1e-6.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

from mesh_platform.loader.mesh import Mesh
from mesh_platform.security.crypto import decrypt_values
from mesh_platform.security.keys import build_keyring
from tests.fixtures_mesh import MaterializedMesh

GOLD = {
    "sales": [
        "pricing_summary",
        "shipping_priority",
        "returned_items_customers",
        "customer_revenue",
        "monthly_sales",
        "daily_orders",
    ],
    "finance": [
        "local_supplier_volume",
        "forecast_revenue_change",
        "order_priority_checking",
        "revenue_by_region",
        "daily_revenue",
    ],
    "marketing": [
        "customer_segments",
        "top_customers_by_nation",
        "promotion_effect",
        "nation_reach",
        "daily_shipments",
    ],
}
CROSS_DOMAIN = {
    "finance.revenue_by_region": "sales.monthly_sales",
    "marketing.customer_segments": "sales.customer_revenue",
    "marketing.top_customers_by_nation": "sales.customer_revenue",
}
ALL_PRODUCTS = sorted(".".join(key) for key in Mesh.load().products)


def num(column: str) -> pl.Expr:
    """A TPC-H decimal column as a float."""
    return pl.col(column).cast(pl.Float64)


NET = num("l_extendedprice") * (1 - num("l_discount"))


def source(mm: MaterializedMesh, table: str) -> pl.DataFrame:
    """A landing table as the silver layer publishes it: text trimmed, types unchanged."""
    frame = mm.landing(table)
    return frame.with_columns(pl.col(pl.String).str.strip_chars())


def assert_same(
    actual: pl.DataFrame,
    expected: pl.DataFrame,
    by: list[str] | None = None,
    descending: list[bool] | bool = False,
) -> None:
    """Same columns and rows; numbers compared as floats with a relative tolerance.

    With `by`, both sides are sorted by it first; without, the order is the expected one.
    """
    assert sorted(actual.columns) == sorted(expected.columns)
    assert actual.height == expected.height, (actual.height, expected.height)
    expected = expected.select(actual.columns)
    floats = [pl.col(pl.Decimal).cast(pl.Float64), pl.col(pl.Float32).cast(pl.Float64)]
    ints = pl.col(pl.Int8, pl.Int16, pl.Int32, pl.UInt8, pl.UInt16, pl.UInt32).cast(pl.Int64)
    actual, expected = (f.with_columns(*floats, ints) for f in (actual, expected))
    if by:
        actual = actual.sort(by, descending=descending)
        expected = expected.sort(by, descending=descending)
    assert_frame_equal(actual, expected, rel_tol=1e-6, abs_tol=1e-6)


def expected_customer_revenue(mm: MaterializedMesh) -> pl.DataFrame:
    customer, nation = source(mm, "customer"), source(mm, "nation")
    orders, lineitem = source(mm, "orders"), source(mm, "lineitem")
    return (
        customer.join(nation, left_on="c_nationkey", right_on="n_nationkey")
        .join(orders, left_on="c_custkey", right_on="o_custkey")
        .join(lineitem, left_on="o_orderkey", right_on="l_orderkey")
        .group_by("c_custkey", "c_name", "c_mktsegment", pl.col("n_name").alias("nation"))
        .agg(order_count=pl.col("o_orderkey").n_unique(), revenue=NET.sum())
    )


def expected_order_lines(mm: MaterializedMesh) -> pl.DataFrame:
    """Order lines with their order and the customer's nation and region."""
    nations = source(mm, "nation").join(
        source(mm, "region"), left_on="n_regionkey", right_on="r_regionkey"
    )
    return (
        source(mm, "orders")
        .join(source(mm, "customer"), left_on="o_custkey", right_on="c_custkey")
        .join(nations, left_on="c_nationkey", right_on="n_nationkey")
        .join(source(mm, "lineitem"), left_on="o_orderkey", right_on="l_orderkey")
    )


# --- the runs ---------------------------------------------------------------------------


def test_every_run_succeeded(materialized_mesh: MaterializedMesh) -> None:
    failed = [(r.domain, r.products) for r in materialized_mesh.runs if not r.success]
    assert not failed, f"runs failed: {failed}"
    ran = sorted(f"{r.domain}.{p}" for r in materialized_mesh.runs for p in r.products)
    assert ran == ALL_PRODUCTS


def test_three_business_domains_with_gold_products(materialized_mesh: MaterializedMesh) -> None:
    mesh = materialized_mesh.mesh
    for domain, products in GOLD.items():
        assert domain in mesh.domains
        assert sorted(s.spec.name for s in mesh.of_domain(domain)) == sorted(products)


@pytest.mark.parametrize("product", ALL_PRODUCTS)
def test_product_materialized_with_rows(materialized_mesh: MaterializedMesh, product: str) -> None:
    assert materialized_mesh.read(product).height > 0
    key = dg.AssetKey(product.split("."))
    assert materialized_mesh.instance.get_latest_materialization_event(key) is not None


def test_cross_domain_products_read_their_upstream(materialized_mesh: MaterializedMesh) -> None:
    mesh = materialized_mesh.mesh
    instance = materialized_mesh.instance
    for product, upstream in CROSS_DOMAIN.items():
        refs = mesh.product(product).spec.input_refs().values()
        assert tuple(upstream.split(".")) in refs
        down = instance.get_latest_materialization_event(dg.AssetKey(product.split(".")))
        up = instance.get_latest_materialization_event(dg.AssetKey(upstream.split(".")))
        assert up is not None and down is not None and up.timestamp < down.timestamp


def test_contact_details_are_tagged_pii(materialized_mesh: MaterializedMesh) -> None:
    key = ("sales", "customer_revenue")
    tagged = {c.name for c in materialized_mesh.mesh.plans[key].columns if "pii" in c.tags}
    assert tagged == {"c_name"}


def test_contact_details_leave_sales_protected(materialized_mesh: MaterializedMesh) -> None:
    columns = materialized_mesh.mesh.plans[("sales", "returned_items_customers")].columns
    tags = {c.name: c.tags for c in columns if c.tags}
    assert tags == {
        "c_name": ("pseudonymized",),
        "c_address": ("encrypted",),
        "c_phone": ("encrypted",),
    }


def _token(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


# --- sales ------------------------------------------------------------------------------


def test_pricing_summary_q1(materialized_mesh: MaterializedMesh) -> None:
    lineitem = source(materialized_mesh, "lineitem")
    cutoff = date(1998, 12, 1) - timedelta(days=90)
    expected = (
        lineitem.filter(pl.col("l_shipdate") <= cutoff)
        .group_by("l_returnflag", "l_linestatus")
        .agg(
            sum_qty=num("l_quantity").sum(),
            sum_base_price=num("l_extendedprice").sum(),
            sum_disc_price=NET.sum(),
            sum_charge=(NET * (1 + num("l_tax"))).sum(),
            avg_qty=num("l_quantity").mean(),
            avg_price=num("l_extendedprice").mean(),
            avg_disc=num("l_discount").mean(),
            count_order=pl.len(),
        )
    )
    actual = materialized_mesh.read("sales.pricing_summary")
    assert_same(actual, expected, by=["l_returnflag", "l_linestatus"])


def test_shipping_priority_q3(materialized_mesh: MaterializedMesh) -> None:
    mm, day = materialized_mesh, date(1995, 3, 15)
    expected = (
        source(mm, "customer")
        .filter(pl.col("c_mktsegment") == "BUILDING")
        .join(
            source(mm, "orders").filter(pl.col("o_orderdate") < day),
            left_on="c_custkey",
            right_on="o_custkey",
        )
        .join(
            source(mm, "lineitem").filter(pl.col("l_shipdate") > day),
            left_on="o_orderkey",
            right_on="l_orderkey",
        )
        .group_by(pl.col("o_orderkey").alias("l_orderkey"), "o_orderdate", "o_shippriority")
        .agg(revenue=NET.sum())
        .sort(["revenue", "o_orderdate"], descending=[True, False])
        .head(10)
    )
    actual = mm.read("sales.shipping_priority")
    assert actual.height == 10
    assert_same(actual, expected, by=["revenue", "o_orderdate"], descending=[True, False])


def test_returned_items_customers_q10(materialized_mesh: MaterializedMesh) -> None:
    mm = materialized_mesh
    orders = source(mm, "orders").filter(
        pl.col("o_orderdate").is_between(date(1993, 10, 1), date(1994, 1, 1), closed="left")
    )
    expected = (
        source(mm, "customer")
        .join(orders, left_on="c_custkey", right_on="o_custkey")
        .join(
            source(mm, "lineitem").filter(pl.col("l_returnflag") == "R"),
            left_on="o_orderkey",
            right_on="l_orderkey",
        )
        .join(source(mm, "nation"), left_on="c_nationkey", right_on="n_nationkey")
        .group_by("c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment")
        .agg(revenue=NET.sum())
        .sort(["revenue", "c_custkey"], descending=[True, False])
        .head(20)
    )
    actual = mm.read("sales.returned_items_customers")
    assert actual.height == 20
    # Protected columns: phone and address decrypt to the source; the name is its keyed token.
    keyring = build_keyring()
    assert not set(actual["c_phone"]) & set(expected["c_phone"])
    actual = actual.with_columns(
        pl.Series("c_phone", decrypt_values(keyring, actual["c_phone"].to_list())),
        pl.Series("c_address", decrypt_values(keyring, actual["c_address"].to_list())),
    )
    token_key = keyring.token_key()
    expected = expected.with_columns(
        pl.col("c_name").map_elements(lambda v: _token(token_key, v), return_dtype=pl.String)
    )
    assert_same(actual, expected, by=["revenue", "c_custkey"], descending=[True, False])


def test_customer_revenue(materialized_mesh: MaterializedMesh) -> None:
    actual = materialized_mesh.read("sales.customer_revenue")
    assert_same(actual, expected_customer_revenue(materialized_mesh), by=["c_custkey"])


def test_monthly_sales(materialized_mesh: MaterializedMesh) -> None:
    expected = (
        expected_order_lines(materialized_mesh)
        .group_by(pl.col("o_orderdate").dt.month_start().alias("order_month"), "n_name")
        .agg(order_count=pl.col("o_orderkey").n_unique(), revenue=NET.sum())
        .rename({"n_name": "nation"})
    )
    actual = materialized_mesh.read("sales.monthly_sales")
    assert_same(actual, expected, by=["order_month", "nation"])


def test_monthly_sales_has_one_partition_per_month(materialized_mesh: MaterializedMesh) -> None:
    months = (
        source(materialized_mesh, "orders")
        .select(pl.col("o_orderdate").dt.month_start().unique())
        .to_series()
    )
    expected = {m.isoformat() for m in months}
    table = DeltaTable(str(materialized_mesh.table_path("sales.monthly_sales")))
    assert table.metadata().partition_columns == ["order_month"]
    partitions = [p["order_month"] for p in table.partitions()]
    assert len(partitions) == len(set(partitions))
    assert set(partitions) == expected
    assert len(expected) == 80  # 1992-01 .. 1998-08
    key = dg.AssetKey(["sales", "monthly_sales"])
    assert materialized_mesh.instance.get_materialized_partitions(key) == expected


# --- finance ----------------------------------------------------------------------------


def test_local_supplier_volume_q5(materialized_mesh: MaterializedMesh) -> None:
    mm = materialized_mesh
    asia = (
        source(mm, "region")
        .filter(pl.col("r_name") == "ASIA")
        .join(source(mm, "nation"), left_on="r_regionkey", right_on="n_regionkey")
    )
    suppliers = source(mm, "supplier").join(asia, left_on="s_nationkey", right_on="n_nationkey")
    orders = source(mm, "orders").filter(pl.col("o_orderdate").dt.year() == 1994)
    expected = (
        source(mm, "customer")
        .join(orders, left_on="c_custkey", right_on="o_custkey")
        .join(source(mm, "lineitem"), left_on="o_orderkey", right_on="l_orderkey")
        .join(
            suppliers,
            left_on=["l_suppkey", "c_nationkey"],
            right_on=["s_suppkey", "s_nationkey"],
        )
        .group_by("n_name")
        .agg(revenue=NET.sum())
    )
    actual = mm.read("finance.local_supplier_volume")
    assert actual.height == 5  # the five nations of ASIA
    assert_same(actual, expected, by=["n_name"])


def test_forecast_revenue_change_q6(materialized_mesh: MaterializedMesh) -> None:
    expected = (
        source(materialized_mesh, "lineitem")
        .filter(
            pl.col("l_shipdate").dt.year() == 1994,
            pl.col("l_discount").is_between(Decimal("0.05"), Decimal("0.07")),
            pl.col("l_quantity") < Decimal("24"),
        )
        .select(revenue=(num("l_extendedprice") * num("l_discount")).sum())
    )
    actual = materialized_mesh.read("finance.forecast_revenue_change")
    assert expected.item() > 0
    assert_same(actual, expected)


def test_order_priority_checking_q4(materialized_mesh: MaterializedMesh) -> None:
    mm = materialized_mesh
    late = source(mm, "lineitem").filter(pl.col("l_commitdate") < pl.col("l_receiptdate"))
    expected = (
        source(mm, "orders")
        .filter(
            pl.col("o_orderdate").is_between(date(1993, 7, 1), date(1993, 10, 1), closed="left")
        )
        .join(late, left_on="o_orderkey", right_on="l_orderkey", how="semi")
        .group_by("o_orderpriority")
        .agg(order_count=pl.len())
    )
    actual = mm.read("finance.order_priority_checking")
    assert_same(actual, expected, by=["o_orderpriority"])


def test_revenue_by_region(materialized_mesh: MaterializedMesh) -> None:
    expected = (
        expected_order_lines(materialized_mesh)
        .group_by(pl.col("o_orderdate").dt.year().alias("order_year"), "r_name")
        .agg(order_count=pl.col("o_orderkey").n_unique(), revenue=NET.sum())
        .rename({"r_name": "region"})
    )
    actual = materialized_mesh.read("finance.revenue_by_region")
    assert_same(actual, expected, by=["order_year", "region"])


# --- marketing --------------------------------------------------------------------------


def test_customer_segments(materialized_mesh: MaterializedMesh) -> None:
    revenue = pl.col("revenue")
    expected = expected_customer_revenue(materialized_mesh).select(
        "c_custkey",
        "c_mktsegment",
        "nation",
        "revenue",
        value_segment=pl.when(revenue >= 2_500_000)
        .then(pl.lit("high"))
        .when(revenue >= 1_000_000)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low")),
        sales_region=pl.col("nation").replace_strict(SALES_REGIONS, default="OTHER"),
    )
    actual = materialized_mesh.read("marketing.customer_segments")
    assert set(actual["sales_region"]) == {"EMEA", "AMER", "APAC"}
    assert set(actual["value_segment"]) == {"high", "medium", "low"}
    assert_same(actual, expected, by=["c_custkey"])


SALES_REGIONS = {
    **dict.fromkeys(["FRANCE", "GERMANY", "ROMANIA", "RUSSIA", "UNITED KINGDOM"], "EMEA"),
    **dict.fromkeys(["ALGERIA", "ETHIOPIA", "KENYA", "MOROCCO", "MOZAMBIQUE"], "EMEA"),
    **dict.fromkeys(["EGYPT", "IRAN", "IRAQ", "JORDAN", "SAUDI ARABIA"], "EMEA"),
    **dict.fromkeys(["ARGENTINA", "BRAZIL", "CANADA", "PERU", "UNITED STATES"], "AMER"),
    **dict.fromkeys(["CHINA", "INDIA", "INDONESIA", "JAPAN", "VIETNAM"], "APAC"),
}


def test_top_customers_by_nation(materialized_mesh: MaterializedMesh) -> None:
    expected = (
        expected_customer_revenue(materialized_mesh)
        .sort(["nation", "revenue", "c_custkey"], descending=[False, True, False])
        .with_columns(revenue_rank=pl.int_range(1, pl.len() + 1).over("nation"))
        .filter(pl.col("revenue_rank") <= 3)
        .select("nation", "revenue_rank", "c_custkey", "c_name", "revenue")
    )
    actual = materialized_mesh.read("marketing.top_customers_by_nation")
    assert actual.height == 25 * 3
    assert_same(actual, expected, by=["nation", "revenue_rank"])


def test_promotion_effect_q14(materialized_mesh: MaterializedMesh) -> None:
    mm = materialized_mesh
    promo = pl.when(pl.col("p_type").str.starts_with("PROMO")).then(NET).otherwise(0.0)
    expected = (
        source(mm, "lineitem")
        .filter(pl.col("l_shipdate").is_between(date(1995, 9, 1), date(1995, 10, 1), closed="left"))
        .join(source(mm, "part"), left_on="l_partkey", right_on="p_partkey")
        .select(promo_revenue=100.0 * promo.sum() / NET.sum())
    )
    actual = mm.read("marketing.promotion_effect")
    assert 0 < expected.item() < 100
    assert_same(actual, expected)


# --- the incremental gold products (first run: built whole; docs/incremental.md) -----------


def test_daily_orders(materialized_mesh: MaterializedMesh) -> None:
    expected = (
        source(materialized_mesh, "orders")
        .group_by(
            pl.col("o_orderdate").alias("order_date"), pl.col("o_orderpriority").alias("priority")
        )
        .agg(order_count=pl.len().cast(pl.Int64), total_price=num("o_totalprice").sum())
    )
    actual = materialized_mesh.read("sales.daily_orders")
    assert_same(actual, expected, by=["order_date", "priority"])


def test_daily_revenue(materialized_mesh: MaterializedMesh) -> None:
    mm = materialized_mesh
    expected = (
        source(mm, "orders")
        .join(source(mm, "lineitem"), left_on="o_orderkey", right_on="l_orderkey")
        .group_by(pl.col("o_orderdate").alias("order_date"))
        .agg(order_count=pl.col("o_orderkey").n_unique().cast(pl.Int64), revenue=NET.sum())
    )
    assert_same(mm.read("finance.daily_revenue"), expected, by=["order_date"])


def test_daily_shipments(materialized_mesh: MaterializedMesh) -> None:
    expected = (
        source(materialized_mesh, "lineitem")
        .group_by(pl.col("l_shipdate").alias("ship_date"), pl.col("l_shipmode").alias("ship_mode"))
        .agg(line_count=pl.len().cast(pl.Int64), quantity=num("l_quantity").sum())
    )
    actual = materialized_mesh.read("marketing.daily_shipments")
    assert_same(actual, expected, by=["ship_date", "ship_mode"])
