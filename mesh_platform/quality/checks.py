"""A product's quality rules, contract, schema-change and volume checks as asset check specs."""

from __future__ import annotations

import dagster as dg

from mesh_platform.compile.rules import (
    CONTRACT_CHECK,
    SCHEMA_CHANGE_CHECK,
    VOLUME_CHECK,
    volume_guarded,
)
from mesh_platform.spec.model import ProductSpec, QualityRule


def check_specs(spec: ProductSpec) -> list[dg.AssetCheckSpec]:
    """The asset checks evaluated in every materialization of the product.

    `error` rules and the contract are blocking: a failure stops downstream products, and
    so is the `volume` check when it may fail as `error` (a drop of a published product).
    """
    key = dg.AssetKey(list(spec.key))
    specs = [
        dg.AssetCheckSpec(
            CONTRACT_CHECK,
            asset=key,
            blocking=True,
            description="Declared columns and types, checked on every run.",
        )
    ]
    if spec.visibility == "published":
        specs.append(
            dg.AssetCheckSpec(
                SCHEMA_CHANGE_CHECK,
                asset=key,
                description="Warns when the published schema differs from the last run's.",
            )
        )
    if volume_guarded(spec):
        specs.append(volume_spec(spec, key))
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


def volume_spec(spec: ProductSpec, key: dg.AssetKey) -> dg.AssetCheckSpec:
    """The `volume` check: the row count against the previous version's."""
    guard = spec.volume
    drop = guard.severity_for(True, spec.visibility)
    growth = guard.severity_for(False, spec.visibility)
    return dg.AssetCheckSpec(
        VOLUME_CHECK,
        asset=key,
        blocking=guard.may_block(spec.visibility),
        description=(
            f"Row count against the previous version's: fails on a drop of "
            f"{_percent(guard.max_drop)}% or more ({drop}) or a growth of "
            f"{_percent(guard.max_growth)}% or more ({growth})."
        ),
        metadata={
            "mesh/max_drop": guard.max_drop,
            "mesh/max_growth": guard.max_growth,
            "mesh/severity": drop if drop == growth else f"drop: {drop}, growth: {growth}",
        },
    )


def _percent(share: float) -> str:
    return f"{share * 100:g}"


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
