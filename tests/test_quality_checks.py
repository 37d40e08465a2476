"""Quality rules as asset checks: blocking `error` and soft `warn` rules, metadata, load errors."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from mesh_platform.dagster.location import location_definitions
from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.domain import planner_for
from tests.mini_mesh import refused, write_approvals

EVENTS = """\
name: events
description: Landing copy of events.
visibility: published
source: {landing: events}
columns:
  - {name: id, type: bigint}
  - {name: kind, type: string}
  - {name: amount, type: double}
quality:
  - {rule: not_null, column: id}
  - {rule: unique, column: id, severity: SEVERITY}
  - {rule: accepted_values, column: kind, values: [a, b], severity: warn}
  - {rule: between, column: amount, min: 0, max: 100}
  - {rule: regex, column: kind, pattern: '^[a-z]$'}
  - {rule: row_count, min: 1, max: 1000}
  - {rule: sql, name: no_big_b, sql: "SELECT * FROM events WHERE kind = 'b' AND amount > 50"}
"""

TOTALS = """\
name: totals
description: Total per kind.
inputs: {events: events}
steps:
  - sql: SELECT kind, sum(amount) AS total FROM events GROUP BY kind
quality:
  - {rule: references, column: kind, product: events, severity: warn}
"""


def _mesh(tmp_path: Path, severity: str) -> tuple[list[dg.AssetsDefinition], Lakehouse]:
    folder = tmp_path / "domains" / "shop"
    (folder / "products").mkdir(parents=True)
    (folder / "domain.yaml").write_text("name: shop\nteam: shop\n")
    (folder / "products/events.yaml").write_text(EVENTS.replace("SEVERITY", severity))
    (folder / "products/totals.yaml").write_text(TOTALS)
    write_approvals(tmp_path)  # names shop, which ingests here, as a landing domain
    defs = location_definitions(tmp_path, "shop")
    (tmp_path / "landing").mkdir()
    pl.DataFrame(
        {"id": [1, 2, 2, 3], "kind": ["a", "b", "c", "a"], "amount": [1.0, 2.0, 3.0, 4.0]}
    ).write_parquet(tmp_path / "landing/events.parquet")
    lakehouse = Lakehouse(root=str(tmp_path / "lake"), landing_root=str(tmp_path / "landing"))
    return [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)], lakehouse


def _catalog(root: Path) -> CatalogResource:
    return CatalogResource(url=f"sqlite:///{root / 'catalog.db'}")


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_a_failed_error_rule_blocks_downstream_and_writes_nothing(tmp_path: Path) -> None:
    assets, lakehouse = _mesh(tmp_path, "error")
    result = dg.materialize(
        assets,
        resources={"lakehouse": lakehouse, "catalog": _catalog(tmp_path)},
        raise_on_error=False,
    )
    assert not result.success
    checks = _checks(result)
    unique = checks["unique_id"]
    assert not unique.passed and unique.severity == dg.AssetCheckSeverity.ERROR
    meta = {k: v.value for k, v in unique.metadata.items()}
    assert meta["mesh/failing_count"] == 2 and meta["mesh/failing_percent"] == 50.0
    assert "2" in str(meta["mesh/sample"])
    assert checks["not_null_id"].passed and checks["between_amount"].passed
    assert checks["row_count"].passed and checks["no_big_b"].passed
    assert not checks["accepted_values_kind"].passed  # the warn rule is recorded too
    assert checks["regex_kind"].passed  # "c" matches ^[a-z]$
    assert checks["contract"].passed
    # Nothing was written and the downstream product did not run.
    assert not lakehouse.exists(("shop", "events"))
    assert [e.asset_key for e in result.get_asset_materialization_events()] == []
    failure = next(e for e in result.all_events if e.is_step_failure)
    data = failure.step_failure_data.user_failure_data
    assert data is not None and data.metadata["mesh/failed_step"].value == "quality:unique_id"


def test_a_failed_warn_rule_lets_downstream_run(tmp_path: Path) -> None:
    assets, lakehouse = _mesh(tmp_path, "warn")
    result = dg.materialize(
        assets, resources={"lakehouse": lakehouse, "catalog": _catalog(tmp_path)}
    )
    assert result.success
    checks = _checks(result)
    assert not checks["unique_id"].passed
    assert checks["unique_id"].severity == dg.AssetCheckSeverity.WARN
    assert checks["references_kind"].passed
    contract = _contract(result)
    assert contract.passed and "schema_change" not in checks and "volume" not in checks
    verdicts = str(contract.metadata["mesh/verdicts"].value)
    for part in ("columns", "schema_change", "volume"):
        assert f"| {part} | passed |" in verdicts
    materialized = {tuple(e.asset_key.path) for e in result.get_asset_materialization_events()}
    assert materialized == {("shop", "events"), ("shop", "totals")}


def test_an_unknown_rule_column_is_a_spec_error_with_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "domains" / "shop"
    (folder / "products").mkdir(parents=True)
    (folder / "domain.yaml").write_text("name: shop\nteam: shop\n")
    (folder / "products/events.yaml").write_text(
        EVENTS.replace("SEVERITY", "warn").replace("column: amount", "column: amout")
    )
    write_approvals(tmp_path)
    info = refused(tmp_path)
    error = info.value.errors[0]
    assert "unknown column(s) amout" in error.problem and error.line == 13
    assert str(error.file).endswith("events.yaml")


def test_grouped_evaluation_counts_failing_rows_exactly() -> None:
    from decimal import Decimal

    import pyarrow as pa

    from mesh_platform.engine.duckdb import DuckDBEngine
    from mesh_platform.quality.evaluate import evaluate_rules
    from mesh_platform.spec.model import ProductSpec

    table = pa.table(
        {
            "k": [3, 1, 2, 1, 3, 4],
            "n": [1, 1, 1, 1, 1, 2],
            "s": ["a", "b", "a", "b", "c", None],
            "d": pa.array([Decimal("0.5"), None, Decimal("2.5"), Decimal("1"), None, None]),
        }
    )
    rules = [
        {"rule": "unique", "columns": ["k", "n"]},  # packed integer key, unsorted
        {"rule": "unique", "columns": ["k", "s"]},  # DuckDB grouping
        {"rule": "not_null", "column": "d"},
        {"rule": "between", "column": "d", "min": 0, "max": 1},
        {"rule": "accepted_values", "column": "s", "values": ["a", "b"]},
    ]
    spec = ProductSpec(
        domain="shop", name="t", description="t", source={"landing": "t"}, quality=rules
    )
    outcomes = evaluate_rules(spec, table, lambda r: [], DuckDBEngine(threads=1))
    found = {o.rule.check_name: o for o in outcomes}
    assert [(n, o.failing) for n, o in found.items()] == [
        ("unique_k_n", 4),
        ("unique_k_s", 2),
        ("not_null_d", 3),
        ("between_d", 1),
        ("accepted_values_s", 1),
    ]
    assert sorted(found["unique_k_n"].sample, key=str) == [{"k": 1, "n": 1}, {"k": 3, "n": 1}]
    assert found["between_d"].sample == [2.5] and found["accepted_values_s"].sample == ["c"]
    assert found["not_null_d"].percent == 50.0


def _assets(root: Path) -> list[dg.AssetsDefinition]:
    """The domain's assets as its spec files say now (a code location's reload)."""
    planner_for.cache_clear()
    defs = location_definitions(root, "shop")
    return [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]


def _contract(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    return next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "contract" and e.asset_key == dg.AssetKey(["shop", "events"])
    )


def test_the_contract_check_shows_each_part_and_fails_as_its_worst(tmp_path: Path) -> None:
    """One `contract` check carries the columns, schema-change and volume verdicts: a schema
    change alone fails it as `warn` (written, downstream runs); with a drop of this published
    product by half, as `error` (nothing written), each failed part named."""
    assets, lakehouse = _mesh(tmp_path, "warn")
    resources = {"lakehouse": lakehouse, "catalog": _catalog(tmp_path)}
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize(assets, resources=resources, instance=instance).success

    events = tmp_path / "domains/shop/products/events.yaml"
    spec = events.read_text()
    events.write_text(spec.replace("{name: id, type: bigint}", "{name: id, type: int}"))
    result = dg.materialize(_assets(tmp_path), resources=resources, instance=instance)
    assert result.success  # a warn: written, and downstream ran
    contract = _contract(result)
    assert not contract.passed and contract.severity == dg.AssetCheckSeverity.WARN
    assert contract.metadata["mesh/failed_parts"].value == "schema_change"
    verdicts = str(contract.metadata["mesh/verdicts"].value)
    assert "| columns | passed |" in verdicts and "| volume | passed |" in verdicts
    assert "| schema_change | failed (warn) | schema changed since the last run: id: bigint" in (
        verdicts
    )
    assert (contract.description or "") == "schema changed since the last run: id: bigint -> int"
    assert str(lakehouse.dataset(("shop", "events")).schema.field("id").type) == "int32"
    assert len(result.get_asset_materialization_events()) == 2

    events.write_text(spec)  # back to bigint, and half the rows of this published product
    pl.DataFrame({"id": [1, 2], "kind": ["a", "b"], "amount": [1.0, 2.0]}).write_parquet(
        tmp_path / "landing/events.parquet"
    )
    blocked = dg.materialize(
        _assets(tmp_path), resources=resources, instance=instance, raise_on_error=False
    )
    assert not blocked.success
    contract = _contract(blocked)
    assert not contract.passed and contract.severity == dg.AssetCheckSeverity.ERROR
    assert contract.metadata["mesh/failed_parts"].value == "schema_change, volume"
    assert contract.metadata["mesh/previous_rows"].value == 4
    assert lakehouse.dataset(("shop", "events")).count_rows() == 4  # nothing was written
