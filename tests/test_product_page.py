"""`mesh show` and `mesh search` on the demo mesh, checked against the specs and the lake;
a failing rule's pass rate over time and latest failing sample on the page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from deltalake import DeltaTable

from mesh_platform.cli import main
from tests.cli_mesh import cli_mesh
from tests.fixtures_mesh import MaterializedMesh

PRODUCT = "sales.customer_revenue"


def run(*args: str) -> dict | list:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_mesh_show_tells_the_published_contract_freshness_consumers_and_versions(
    materialized_mesh: MaterializedMesh,
) -> None:
    mesh = materialized_mesh.mesh
    page = run("show", PRODUCT, "--json")
    assert isinstance(page, dict)
    spec = mesh.product(PRODUCT).spec
    assert [(c["name"], c["type"], c["description"], c["tags"]) for c in page["columns"]] == [
        (c.name, c.type, c.description, list(c.tags)) for c in spec.columns
    ]
    assert page["owners"] == list(spec.owners or mesh.domains["sales"].spec.owners)
    assert page["on_call"] == mesh.domains["sales"].spec.on_call
    assert page["version"] == spec.version and page["dagster_asset_path"] == ["sales", PRODUCT[6:]]

    # Versions and freshness from the lake and the run that wrote it.
    table = DeltaTable(str(materialized_mesh.table_path(PRODUCT)))
    latest = page["table_versions"][0]
    assert latest["delta_version"] == table.version()
    assert latest["row_count"] == materialized_mesh.read(PRODUCT).height
    assert latest["run_id"] in {r.run_id for r in materialized_mesh.runs}
    assert len(page["table_versions"]) == len(table.history())
    assert page["sla_hours"] == spec.freshness.max_age_hours  # type: ignore[union-attr]
    assert page["freshness"] == "fresh" and 0 <= page["age_hours"] < 1

    # Consumers: other domains' products reading it (internal ones counted, not named).
    readers = [
        mesh.products[k].spec
        for k in mesh.order
        if k[0] != "sales" and ("sales", "customer_revenue") in mesh.upstream(k)
    ]
    named = sorted(s.qualified_name for s in readers if s.visibility == "published")
    assert [c["consumer"] for c in page["consumers"]] == named == ["marketing.customer_segments"]
    # customer_segments' SQL: SELECT c_custkey, c_mktsegment, nation, revenue FROM ...
    assert page["consumers"][0]["columns"] == ["c_custkey", "c_mktsegment", "nation", "revenue"]
    assert page["hidden_consumers"] == len(readers) - len(named)
    assert page["consumer_count"] == len(readers)
    assert page["reads"] == len(readers)  # each reader ran once, in the last 30 days

    # Each column's formula, followed upstream into the platform's products.
    revenue = next(c for c in page["columns"] if c["name"] == "revenue")
    # each order's lines summed first, then the orders (sales/products/customer_revenue.yaml)
    assert revenue["formula"] == "SUM(SUM(l_extendedprice * (1 - l_discount)))"
    assert {(o["product"], o["column"]) for o in revenue["upstream"]} >= {
        ("platform.silver_lineitem", "l_extendedprice"),
        ("platform.silver_lineitem", "l_discount"),
    }
    assert sorted(page["upstream"]) == sorted(".".join(k) for k in mesh.upstream(spec.key))
    assert "marketing.customer_segments" in page["downstream"]

    # The platform's checks ran once each and passed: pass rate 1.0 today, score 100.
    assert page["rules"] and all(r["pass_rate"] == 1.0 for r in page["rules"])
    assert {r["name"] for r in page["rules"]} >= {"contract"}
    assert len(page["quality_series"]) == 1 and page["quality_series"][0][1] == 1.0
    assert page["quality_score"] == 100.0 and page["failing_samples"] == []
    assert page["steps"][0]["kind"] == "sql" and "revenue" in page["steps"][0]["schema"]

    text = CliRunner().invoke(main, ["show", PRODUCT, "--no-sync"]).stdout
    for section in ("columns (the published contract):", "consumers (and the columns"):
        assert section in text
    assert "<- platform.silver_lineitem.l_extendedprice" in text

    hits = run("search", "revenue", "customer", "--json", "--no-sync")
    assert isinstance(hits, list) and hits[0]["product"] == PRODUCT
    assert hits[0]["freshness"] == 1.0 and hits[0]["quality"] == 1.0
    internal = [k for k in mesh.order if mesh.products[k].spec.visibility == "internal"]
    assert not {h["product"] for h in run("search", "--json", "--limit", "100")} & {
        ".".join(k) for k in internal
    }


WARNED = """\
name: orders
description: Orders as the shop exports them.
visibility: published
source: {landing: orders}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
quality:
  - {rule: between, column: amount, min: 0, severity: warn}
"""


def test_a_failing_rule_shows_its_pass_rate_over_time_and_its_latest_failing_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cli_mesh(tmp_path, {"shop": {"orders": WARNED}}, monkeypatch) as mesh:
        mesh.land("orders", {"id": [1, 2], "amount": [10.0, 5.0]})
        assert mesh.run("materialize", "shop").exit_code == 0
        mesh.land("orders", {"id": [1, 2, 3, 4], "amount": [10.0, -5.0, 7.5, -1.25]})
        assert mesh.run("materialize", "shop").exit_code == 0
        result = mesh.run("show", "shop.orders", "--json")
        assert result.exit_code == 0, result.output
        page = json.loads(result.stdout)
        missing = mesh.run("show", "shop.order", "--no-sync")
        assert missing.exit_code == 1 and "Traceback" not in missing.output
        assert "no product 'shop.order'" in missing.output and "mesh search" in missing.output
    rule = next(r for r in page["rules"] if r["name"] == "between_amount")
    assert (rule["severity"], rule["evaluations"], rule["pass_rate"]) == ("warn", 2, 0.5)
    assert rule["last_passed"] is False
    [sample] = page["failing_samples"]
    assert sample["check"] == "between_amount" and sample["failing_count"] == 2
    assert sample["failing_percent"] == 50.0
    assert "-5.0" in sample["sample"] and "-1.25" in sample["sample"]
    assert [v["row_count"] for v in page["table_versions"]] == [4, 2]
    assert page["quality_score"] < 100
