"""Evaluating quality rules on a product's result, in memory, with Great Expectations.

Only the columns a rule reads go to pandas, grouped first by Arrow (or polars, for compound
keys) to their distinct values with row counts (see `Distinct`), because GE's pandas engine
is the cost here. Great Expectations is imported on first use, never at code-location load.
Custom `sql` rules run on the product's engine over the Arrow table: GE evaluates SQL only on
SQL sources.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from mesh_platform.engine import Engine
from mesh_platform.quality.groups import COUNT, KEYS, SAMPLE_SIZE, Distinct
from mesh_platform.quality.spilled import SpilledDistinct
from mesh_platform.spec.model import ProductSpec, QualityRule

ReferenceValues = Callable[[QualityRule], list[Any]]


@dataclass(frozen=True)
class RuleOutcome:
    """The result of one rule on one materialization."""

    rule: QualityRule
    passed: bool
    failing: int
    total: int
    sample: list[Any] = field(default_factory=list)
    error: str | None = None

    @property
    def percent(self) -> float:
        """Failing rows as a percentage of all rows."""
        return round(100.0 * self.failing / self.total, 4) if self.total else 0.0


@functools.lru_cache(maxsize=1)
def _batch_definition() -> Any:
    """A GE batch definition on an ephemeral context, built once per process."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("mesh").add_dataframe_asset("product")
    return asset.add_batch_definition_whole_dataframe("in_memory")


def _expectation(rule: QualityRule, references: ReferenceValues) -> Any:
    import great_expectations.expectations as gxe

    column = rule.column or ""  # every column rule has one (validated by the model)
    if rule.rule == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=column)
    if rule.rule == "unique":
        if len(rule.target_columns) > 1:
            return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(rule.target_columns))
        return gxe.ExpectColumnValuesToBeUnique(column=rule.target_columns[0])
    if rule.rule == "accepted_values":
        return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(rule.values))
    if rule.rule == "between":
        return gxe.ExpectColumnValuesToBeBetween(
            column=column, min_value=rule.min, max_value=rule.max
        )
    if rule.rule == "regex":
        return gxe.ExpectColumnValuesToMatchRegex(column=column, regex=rule.pattern or "")
    if rule.rule == "row_count":
        return gxe.ExpectColumnValuesToBeBetween(
            column=COUNT, min_value=rule.min, max_value=rule.max
        )
    if rule.rule == "references":
        return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=references(rule))
    raise ValueError(f"no expectation for rule {rule.rule!r}")


def _with_ge(rule: QualityRule, distinct: Distinct, references: ReferenceValues) -> RuleOutcome:
    import pandas as pd

    total = distinct.table.num_rows
    if rule.rule == "row_count":
        # GE validates the count Arrow already knows, instead of re-counting every row.
        frame = pd.DataFrame({COUNT: [total]})
        result = (
            _batch_definition()
            .get_batch(batch_parameters={"dataframe": frame})
            .validate(_expectation(rule, references), result_format="SUMMARY")
        )
        low = rule.min if rule.min is not None else total
        high = rule.max if rule.max is not None else total
        off = int(max(low - total, total - high, 0))
        return RuleOutcome(rule, bool(result.success), off, total, [total] if off else [])
    grouping = _grouping(rule)
    assert grouping is not None
    frame = distinct.frame(*grouping)
    if rule.rule == "unique":
        import great_expectations.expectations as gxe

        # On how often keys occur: a key may occur once.
        expectation: Any = gxe.ExpectColumnValuesToBeBetween(column=COUNT, max_value=1)
        index_columns = [COUNT, KEYS]
    else:
        expectation = _expectation(rule, references)
        index_columns = [COUNT]
    # The unexpected groups come back with the rows behind them.
    result = (
        _batch_definition()
        .get_batch(batch_parameters={"dataframe": frame})
        .validate(
            expectation,
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": index_columns,
            },
        )
    )
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return RuleOutcome(rule, False, 0, total, error=str(info.get("exception_message")))
    unexpected = list((result.result or {}).get("unexpected_index_list") or [])
    if rule.rule == "unique":
        failing = int(sum(int(row[COUNT]) * int(row[KEYS]) for row in unexpected))
        sample = distinct.duplicate_keys(rule.target_columns) if failing else []
    else:
        failing = int(sum(int(row[COUNT]) for row in unexpected))
        sample = list((result.result or {}).get("unexpected_list") or [])[:SAMPLE_SIZE]
    return RuleOutcome(rule, failing == 0, failing, total, sample)


def _with_sql(spec: ProductSpec, rule: QualityRule, table: pa.Table, engine: Engine) -> RuleOutcome:
    assert rule.sql is not None
    # A result spilled to disk is scanned as its files (`run/staged.py`).
    bad = engine.query(rule.sql, {spec.name: getattr(table, "dataset", table)})
    sample = bad.slice(0, SAMPLE_SIZE).to_pylist()
    return RuleOutcome(rule, bad.num_rows == 0, bad.num_rows, table.num_rows, sample)


def evaluate_rules(
    spec: ProductSpec, table: pa.Table, references: ReferenceValues, engine: Engine
) -> list[RuleOutcome]:
    """Every rule of the spec on `table` (the result about to be written)."""
    if not spec.quality:
        return []
    distinct = _distinct(table)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="mesh-quality") as pool:
        distinct.prefetch([g for r in spec.quality if (g := _grouping(r)) is not None], pool)
        sql = {
            i: pool.submit(_with_sql, spec, r, table, engine)
            for i, r in enumerate(spec.quality)
            if r.rule == "sql"
        }
        outcomes = []
        for index, rule in enumerate(spec.quality):
            try:
                if index in sql:
                    outcomes.append(sql[index].result())
                else:
                    outcomes.append(_with_ge(rule, distinct, references))
            except Exception as exc:  # a rule that cannot run fails, with its reason visible
                error = f"{type(exc).__name__}: {exc}"
                outcomes.append(RuleOutcome(rule, False, 0, table.num_rows, error=error))
    return outcomes


def _distinct(table: Any) -> Distinct:
    """The groups of a result held in memory, or of one spilled to disk (grouped by DuckDB
    there: `quality/spilled.py`)."""
    return SpilledDistinct(table) if hasattr(table, "dataset") else Distinct(table)


def _grouping(rule: QualityRule) -> tuple[str, tuple[str, ...]] | None:
    """The grouping a rule is validated on (None: `row_count` and `sql` need none)."""
    if rule.rule in ("row_count", "sql"):
        return None
    if rule.rule == "unique":
        return ("key_counts", rule.target_columns)
    return ("nullness" if rule.rule == "not_null" else "values", rule.target_columns)


def sample_text(sample: list[Any]) -> str:
    """A sample of bad values as compact JSON for check metadata and notifications."""
    return json.dumps(sample, default=str)[:2000]
