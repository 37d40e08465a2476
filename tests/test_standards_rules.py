"""The sales segmentation rule: one decision table, identical as a step and as a SQL function."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from mesh_platform.engine.duckdb import DuckDBEngine
from mesh_platform.loader.mesh import Mesh, load_mesh
from standards.business_rules import compile_table, rule_sets
from tests.mini_mesh import write_mesh

NATIONS = ["FRANCE", "BRAZIL", "JAPAN", "EGYPT", "KENYA", "ATLANTIS", None]
REVENUES = [None, 0.0, 999_999.99, 1_000_000.0, 2_499_999.99, 2_500_000.0, 9e9]

CUSTOMERS = """\
name: customers
description: Landing copy.
source: {landing: customers}
columns:
  - {name: id, type: bigint}
  - {name: country, type: string}
  - {name: spend, type: double}
"""

BY_STEP = """\
name: by_step
description: The rule as a step.
inputs: {customers: customers}
steps:
  - sql: SELECT id, country, spend FROM customers
  - use: sales_segmentation
    with: {nation: country, revenue: spend}
"""

BY_UDF = """\
name: by_udf
description: The rule as SQL functions.
inputs: {customers: customers}
steps:
  - sql: |
      SELECT id, country, spend, sales_region(country) AS sales_region,
        sales_segment(spend) AS value_segment
      FROM customers
"""


def _grid() -> pa.Table:
    rows = [(n, r) for n in NATIONS for r in REVENUES]
    return pa.table(
        {
            "id": list(range(len(rows))),
            "country": [n for n, _ in rows],
            "spend": [r for _, r in rows],
        }
    )


def test_step_and_sql_function_classify_identically(tmp_path: Path) -> None:
    root = write_mesh(
        tmp_path, {"shop": {"customers": CUSTOMERS, "by_step": BY_STEP, "by_udf": BY_UDF}}
    )
    mesh = load_mesh(root)
    engine = DuckDBEngine(threads=1)
    inputs = {"customers": _grid()}
    step = engine.run(mesh.plans[("shop", "by_step")], inputs).table.sort_by("id")
    udf = engine.run(mesh.plans[("shop", "by_udf")], inputs).table.sort_by("id")
    assert step.to_pylist() == udf.to_pylist()
    rows = {(r["country"], r["spend"]): r for r in step.to_pylist()}
    assert rows[("FRANCE", 2_500_000.0)]["value_segment"] == "high"
    assert rows[("FRANCE", 2_499_999.99)]["value_segment"] == "medium"
    assert rows[("BRAZIL", 1_000_000.0)]["value_segment"] == "medium"
    assert rows[("JAPAN", 999_999.99)]["value_segment"] == "low"
    assert rows[("JAPAN", 0.0)]["sales_region"] == "APAC"
    assert rows[("EGYPT", 0.0)]["sales_region"] == "EMEA"
    assert rows[("ATLANTIS", 0.0)]["sales_region"] == "OTHER"
    assert mesh.plans[("shop", "by_step")].schema["sales_region"] == "string"


def test_the_rule_compiles_to_one_case_expression() -> None:
    (rules,) = [r for r in rule_sets() if r.name == "sales_segmentation"]
    segment = next(t for t in rules.tables if t.function == "sales_segment")
    assert compile_table(segment, {"revenue": "spend"}) == (
        "CASE WHEN spend >= 2500000 THEN 'high' WHEN spend >= 1000000 THEN 'medium' ELSE 'low' END"
    )


def test_marketing_uses_the_rule() -> None:
    plan = Mesh.load().plans[("marketing", "customer_segments")]
    assert [s.standard for s in plan.steps if s.kind == "standard"] == ["sales_segmentation"]
    formulas = {c.name: c.formula for c in plan.columns}
    assert "2500000" in formulas["value_segment"] and "FRANCE" in formulas["sales_region"]


def test_a_standard_step_has_exactly_one_implementation() -> None:
    import pytest
    from pydantic import BaseModel

    from mesh_platform.registry import StandardStepDefinition

    for implementations in ({}, {"apply": lambda f, _p: f, "sql": lambda s, _p: list(s)}):
        with pytest.raises(ValueError, match="needs exactly one of `apply` or `sql`"):
            StandardStepDefinition(
                name="odd", version="1.0.0", description="", params=BaseModel, **implementations
            )
