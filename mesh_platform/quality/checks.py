"""A product's checks as asset check specs: the platform's `contract`, then its quality rules."""

from __future__ import annotations

import dagster as dg

from mesh_platform.quality.contract import contract_spec
from mesh_platform.spec.model import ProductSpec, QualityRule


def check_specs(spec: ProductSpec) -> list[dg.AssetCheckSpec]:
    """The asset checks evaluated in every materialization of the product: the platform's
    `contract` (its columns, schema change and volume parts: `quality/contract.py`), blocking,
    then the spec's rules, `error` rules blocking (a failure stops downstream products)."""
    key = dg.AssetKey(list(spec.key))
    specs = [contract_spec(spec)]
    for rule in spec.quality:
        specs.append(
            dg.AssetCheckSpec(
                rule.check_name,
                asset=key,
                blocking=rule.severity == "error",
                description=rule.description or describe(rule),
                metadata={"mesh/rule": rule.rule, "mesh/severity": rule.severity},
            )
        )
    return specs


def describe(rule: QualityRule) -> str:
    """A one-line description of what the rule demands."""
    cols = ", ".join(rule.target_columns)
    texts = {
        "not_null": f"{cols} is never null",
        "unique": f"({cols}) is unique",
        "accepted_values": f"{cols} is one of {list(rule.values)}",
        "between": f"{cols} is between {rule.min} and {rule.max}",
        "regex": f"{cols} matches {rule.pattern!r}",
        "row_count": f"row count is between {rule.min} and {rule.max}",
        "references": f"{cols} exists in {rule.product}.{rule.ref_column or rule.column}",
        "sql": "the query returns no rows",
    }
    return f"{texts[rule.rule]} ({rule.severity})"
