"""Impact analysis: every product downstream of a product or column, across three domains,
with the consuming column's formula, joins and filters, owners; `mesh impact` prints it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesh_platform.loader.mesh import Mesh, load_mesh
from mesh_platform.marketplace.impact import ImpactError, impact
from mesh_platform.marketplace.impact_load import mesh_for_impact
from tests.cli_mesh import cli_mesh
from tests.mini_mesh import write_mesh

# shop.orders -> sales.revenue (net through a formula) -> finance.kpi (gross from net);
# sales.big_orders reads `amount` only in its filter; shop.statuses does not read `amount`.
MESH = {
    "shop": {
        "orders": """\
            name: orders
            description: Orders, as the shop exports them.
            visibility: published
            owners: [shop-data@example.com]
            source: {landing: orders}
            columns:
              - {name: id, type: bigint}
              - {name: customer, type: string}
              - {name: amount, type: double}
              - {name: discount, type: double}
              - {name: status, type: string}
            """,
        "statuses": """\
            name: statuses
            description: Orders per status.
            inputs: {orders: orders}
            steps:
              - sql: SELECT status, count(*) AS n FROM orders GROUP BY status
            """,
    },
    "sales": {
        "revenue": """\
            name: revenue
            description: Net revenue per customer.
            visibility: published
            owners: [sales-data@example.com]
            inputs: {orders: shop.orders}
            steps:
              - sql: |
                  SELECT customer, sum(amount * (1 - discount)) AS net, count(*) AS order_count
                  FROM orders GROUP BY customer
            columns:
              - {name: customer, type: string}
              - {name: net, type: double}
              - {name: order_count, type: bigint}
            """,
        "big_orders": """\
            name: big_orders
            description: Ids of the big orders.
            inputs: {o: shop.orders}
            steps:
              - sql: SELECT x.id FROM o AS x WHERE x.amount > 100
            """,
    },
    "finance": {
        "kpi": """\
            name: kpi
            description: Gross revenue and order count per customer.
            owners: [finance-data@example.com]
            inputs: {revenue: sales.revenue}
            steps:
              - sql: SELECT customer, net * 1.2 AS gross, order_count FROM revenue
            """,
    },
}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Mesh:
    return load_mesh(write_mesh(tmp_path_factory.mktemp("impact"), MESH))


def _by_product(report_dict: dict) -> dict[str, dict]:
    return {p["product"]: p for p in report_dict["impacted"]}


def test_a_column_is_followed_through_formulas_across_three_domains(mesh: Mesh) -> None:
    report = impact(mesh, "shop.orders", column="amount")
    found = _by_product(report.to_dict())
    assert set(found) == {"sales.revenue", "sales.big_orders", "finance.kpi"}
    assert report.domains == ("finance", "sales")

    revenue = found["sales.revenue"]
    assert revenue["depth"] == 1 and revenue["via"] == "shop.orders"
    assert revenue["owners"] == ["sales-data@example.com"]
    (net,) = revenue["columns"]
    assert net["column"] == "net"
    assert net["formula"] == "SUM(amount * (1 - discount))"
    assert net["reads"] == ["shop.orders.amount"]

    kpi = found["finance.kpi"]  # through sales.revenue.net, not through order_count
    assert kpi["depth"] == 2 and kpi["via"] == "sales.revenue"
    assert [(c["column"], c["formula"]) for c in kpi["columns"]] == [("gross", "net * 1.2")]
    assert kpi["columns"][0]["reads"] == ["sales.revenue.net"]

    big = found["sales.big_orders"]  # a filter: its rows depend on amount, no column derives
    assert big["columns"] == [] and big["filters"] == ["shop.orders.amount"]


def test_a_column_nothing_derives_from_reaches_only_its_readers(mesh: Mesh) -> None:
    found = _by_product(impact(mesh, "shop.orders", column="status").to_dict())
    assert set(found) == {"shop.statuses"}
    assert found["shop.statuses"]["columns"][0]["formula"] == "status"
    assert _by_product(impact(mesh, "shop.orders", column="discount").to_dict()).keys() == {
        "sales.revenue",
        "finance.kpi",
    }


def test_a_product_reaches_every_transitive_consumer(mesh: Mesh) -> None:
    report = impact(mesh, "shop.orders")
    assert [(p.product, p.depth) for p in report.impacted] == [
        ("sales.big_orders", 1),
        ("sales.revenue", 1),
        ("shop.statuses", 1),
        ("finance.kpi", 2),
    ]
    kpi = report.impacted[-1]
    assert {c.column for c in kpi.columns} == {"customer", "gross", "order_count"}  # count(*) too
    assert impact(mesh, "finance.kpi").impacted == ()
    assert "Nothing downstream depends on finance.kpi" in impact(mesh, "finance.kpi").render()


def test_the_command_plans_only_the_domains_downstream(mesh: Mesh) -> None:
    partial = mesh_for_impact(mesh.root, "sales.revenue")
    assert {key[0] for key in partial.plans} == {"sales", "finance"}  # not shop
    for column in (None, "net", "customer"):
        assert impact(partial, "sales.revenue", column) == impact(mesh, "sales.revenue", column)
    demo = Mesh.load_healthy()
    for name in ("platform.silver_customer", "sales.customer_revenue"):
        assert impact(mesh_for_impact(demo.root, name), name) == impact(demo, name)
    with pytest.raises(ImpactError, match=r"no product 'sales\.nope'"):
        mesh_for_impact(mesh.root, "sales.nope")


def test_unknown_product_or_column_names_the_fix(mesh: Mesh) -> None:
    with pytest.raises(ImpactError, match=r"no column 'amout'; its columns: id, customer, amount"):
        impact(mesh, "shop.orders", column="amout")
    with pytest.raises(ImpactError, match=r"no product 'shop.order'"):
        impact(mesh, "shop.order")


def test_a_column_computed_by_a_python_step_is_a_possible_use() -> None:
    demo = Mesh.load_healthy()
    report = impact(demo, "sales.customer_revenue", column="revenue")
    reach = next(p for p in report.impacted if p.product == "marketing.nation_reach")
    uses = {u.column: u for u in reach.columns}
    # The Python step may put any column it received into any of its outputs: every column
    # after it is a possible use, with the SQL formula it received in its lineage.
    assert not uses["revenue"].certain and "SUM(revenue)" in uses["revenue"].formula
    assert not uses["revenue_share_pct"].certain  # computed in Python from revenue
    assert uses["revenue"].formula.startswith("from_step_2(")


def test_mesh_impact_prints_the_report_and_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cli_mesh(tmp_path, MESH, monkeypatch) as cli:
        human = cli.run("impact", "shop.orders", "--column", "amount")
        assert human.exit_code == 0, human.output
        assert "3 product(s) in 2 domain(s) depend on shop.orders.amount" in human.output
        assert "net = SUM(amount * (1 - discount))" in human.output
        assert "owners: finance-data@example.com" in human.output
        as_json = cli.run("impact", "shop.orders", "--column", "amount", "--json")
        assert json.loads(as_json.output)["impacted"][2]["product"] == "finance.kpi"
        wrong = cli.run("impact", "shop.orders", "--column", "nope")
        assert wrong.exit_code == 1
        assert "no column 'nope'" in wrong.output and "Traceback" not in wrong.output
