"""Quality on the whole materialized mesh: demo checks green, `mesh quality`, `mesh status`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mesh_platform.cli import main
from tests.fixtures_mesh import MaterializedMesh


def test_the_demo_rules_pass_on_the_mesh(materialized_mesh: MaterializedMesh) -> None:
    import dagster as dg

    instance = materialized_mesh.instance
    for product, check in [
        ("platform.silver_lineitem", "unique_order_line"),
        ("platform.silver_orders", "regex_o_orderpriority"),
        ("finance.revenue_by_region", "references_region"),
        ("finance.order_priority_checking", "row_count"),
    ]:
        key = dg.AssetCheckKey(dg.AssetKey(product.split(".")), check)
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        assert record is not None and record.evaluation is not None, (product, check)
        assert record.evaluation.passed, (product, check)


def test_mesh_quality_and_status(materialized_mesh: MaterializedMesh) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["quality", "platform.silver_lineitem", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["score"] == 100.0
    checks = {c["check_name"]: c for c in data["checks"]}
    assert checks["not_null_l_orderkey"]["pass_rate"] == 1.0
    assert {"contract", "received_after_shipping"} <= set(checks)
    assert "schema_change" not in checks and "volume" not in checks  # parts of `contract`

    result = runner.invoke(main, ["status", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["product"]: r for r in json.loads(result.output)}
    assert len(rows) == len(materialized_mesh.mesh.products)
    silver = rows["platform.silver_lineitem"]
    assert silver["freshness"] == "fresh" and silver["quality_score"] == 100.0
    assert silver["open_alerts"] == 0 and silver["last_run_id"]
    assert rows["finance.forecast_revenue_change"]["freshness"] == "no_sla"
    human = runner.invoke(main, ["status"])
    assert "platform.silver_lineitem" in human.output and "fresh" in human.output
