"""A Python-authored product with a Python step, materialized with the rest of the mesh."""

from __future__ import annotations

import polars as pl

from mesh_platform.loader.mesh import Mesh


def test_python_product_is_part_of_the_mesh() -> None:
    source = Mesh.load().product("marketing.nation_reach")
    assert source.path.suffix == ".py"
    assert source.spec.owners[0] == "team:marketing-analytics"
    plan = Mesh.load().plans[source.spec.key]
    assert [s.kind for s in plan.steps] == ["sql", "python"]
    columns = {c.name: c for c in plan.columns}
    # A Python step may put any value it received in any column: each comes from all of them.
    received = "from_step_2(nation, COUNT(*), SUM(revenue))"
    assert {c.formula for c in columns.values()} == {received}
    both = (("customer_revenue", "nation"), ("customer_revenue", "revenue"))
    assert columns["revenue"].sources == columns["revenue_share_pct"].sources == both


def test_nation_reach_matches_an_independent_computation(materialized_mesh) -> None:
    # A table has no row order: compare in the order the product's Python step sorts by.
    actual = materialized_mesh.read("marketing.nation_reach").sort("revenue", descending=True)
    upstream = materialized_mesh.read("sales.customer_revenue")
    expected = (
        upstream.group_by("nation")
        .agg(pl.len().cast(pl.Int64).alias("customers"), pl.col("revenue").sum())
        .with_columns((pl.col("revenue") / pl.col("revenue").sum() * 100).alias("share"))
        .sort("revenue", descending=True)
    )
    assert actual["nation"].to_list() == expected["nation"].to_list()
    assert actual["customers"].to_list() == expected["customers"].to_list()
    for got, want in zip(actual["revenue_share_pct"], expected["share"], strict=True):
        assert abs(got - want) < 1e-9
    assert abs(actual["revenue_share_pct"].sum() - 100) < 1e-9
