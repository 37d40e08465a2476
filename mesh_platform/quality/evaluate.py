"""Evaluating quality rules on a product's result, in memory, with Great Expectations.

Only the columns a rule reads go to pandas, grouped first by Arrow (or polars, for compound
keys) to their distinct values with row counts (see `_Distinct`), because GE's pandas engine
is the cost here. Great Expectations is imported on first use, never at code-location load.
Custom `sql` rules run on the product's engine over the Arrow table: GE evaluates SQL only on
SQL sources.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mesh_platform.engine import Engine
from mesh_platform.spec.model import ProductSpec, QualityRule

SAMPLE_SIZE = 10

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


COUNT = "__rows"  # rows holding each distinct value (or key count)
KEYS = "__keys"  # `unique`: keys having that count


class _Distinct:
    """The product's columns grouped to what a rule depends on, with the rows behind each group.

    A rule depends on a row only through its value (`not_null`: only through its nullness;
    `unique`: only through how often its key occurs), so GE validates each group once and
    the failing row count is the sum of the rows behind the groups GE reports unexpected:
    exact, and far less work than millions of rows in pandas. Grouping is Arrow's (single
    columns) or DuckDB's (compound keys); a key already in strictly increasing order (an
    export sorted by its key, like TPC-H's) is unique without grouping.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._cache: dict[tuple[str, tuple[str, ...]], Any] = {}

    def _grouped(self, names: tuple[str, ...]) -> Any:
        """Rows per distinct key of `names` (polars groups in native threads, off the GIL)."""
        import polars as pl

        frame = pl.from_arrow(self.table.select(list(names)))
        assert isinstance(frame, pl.DataFrame)
        return frame.group_by(list(names)).agg(pl.len().alias(COUNT))

    def prefetch(self, wanted: Iterable[tuple[str, tuple[str, ...]]], pool: Executor) -> None:
        """Start grouping in `pool`: Arrow and polars release the GIL, so groupings overlap."""
        for mode, names in wanted:
            if (mode, names) not in self._cache:
                self._cache[(mode, names)] = pool.submit(self._group, mode, names)

    def frame(self, mode: str, names: tuple[str, ...]) -> Any:
        """A pandas frame of groups and their `COUNT` (mode: values | nullness | key_counts)."""
        found = self._cache.get((mode, names))
        if found is None:
            found = self._cache[(mode, names)] = self._group(mode, names)
        return found.result() if isinstance(found, Future) else found

    def _group(self, mode: str, names: tuple[str, ...]) -> Any:
        grouped = {
            "nullness": self._nullness,
            "values": self._values,
            "key_counts": self._key_counts,
        }[mode](names)
        columns = {}
        for name in grouped.column_names:
            array = grouped.column(name)
            if pa.types.is_decimal(array.type):
                array = array.cast(pa.float64())
            columns[name] = array
        return pa.table(columns).to_pandas()

    def _column(self, name: str) -> pa.ChunkedArray:
        array = self.table.column(name)
        return array.cast(pa.float64()) if pa.types.is_decimal(array.type) else array

    def _nullness(self, names: tuple[str, ...]) -> pa.Table:
        array = self._column(names[0])
        nulls = array.null_count
        valid = array.drop_null()
        values = ([valid[0].as_py()] if len(valid) else []) + ([None] if nulls else [])
        counts = ([len(valid)] if len(valid) else []) + ([nulls] if nulls else [])
        return pa.table({names[0]: pa.array(values, array.type), COUNT: pa.array(counts)})

    def _values(self, names: tuple[str, ...]) -> pa.Table:
        if len(names) == 1:
            counted = pc.value_counts(self._column(names[0]))
            return pa.table({names[0]: counted.field("values"), COUNT: counted.field("counts")})
        return self._grouped(names).to_arrow()

    def _key_counts(self, names: tuple[str, ...]) -> pa.Table:
        key = self._integer_key(names)
        if key is not None and _strictly_increasing(key):
            return pa.table({COUNT: [1], KEYS: [len(key)]})
        if key is not None:
            per_key = pc.value_counts(key).field("counts")
            counted = pc.value_counts(per_key)
            return pa.table({COUNT: counted.field("values"), KEYS: counted.field("counts")})
        import polars as pl

        per_key = self._grouped(names)
        return per_key.group_by(COUNT).agg(pl.len().alias(KEYS)).to_arrow()

    def _integer_key(self, names: tuple[str, ...]) -> pa.Array | None:
        """Integer key columns without nulls packed exactly into one int64, else None."""
        arrays = [self.table.column(n).combine_chunks() for n in names]
        if not all(pa.types.is_integer(a.type) and a.null_count == 0 for a in arrays):
            return None
        if len(arrays) == 1:
            return arrays[0].cast(pa.int64())
        key: pa.Array | None = None
        span = 1
        for array in reversed(arrays):
            low, high = pc.min_max(array).values()
            low, high = low.as_py(), high.as_py()
            if low is None:
                return None
            shifted = pc.subtract(array.cast(pa.int64()), low)
            part = pc.multiply(shifted, span)
            key = part if key is None else pc.add(key, part)
            span *= high - low + 1
            if span >= 2**62:  # would overflow: group the columns instead
                return None
        return key

    def duplicate_keys(self, names: tuple[str, ...]) -> list[Any]:
        """A sample of keys occurring more than once."""
        import polars as pl

        grouped = self._grouped(names)
        found = grouped.filter(pl.col(COUNT) > 1).head(SAMPLE_SIZE).drop(COUNT).to_dicts()
        return [r[names[0]] for r in found] if len(names) == 1 else found


def _strictly_increasing(key: pa.Array) -> bool:
    if len(key) < 2:
        return True
    return bool(pc.all(pc.greater(key.slice(1), key.slice(0, len(key) - 1))).as_py())


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


def _with_ge(rule: QualityRule, distinct: _Distinct, references: ReferenceValues) -> RuleOutcome:
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
    distinct = _Distinct(table)
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
