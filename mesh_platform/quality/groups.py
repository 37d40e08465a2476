"""The groups a quality rule is validated on: each distinct value of the columns it reads with
the rows behind it, a column's nullness, how often keys occur (`evaluate.py` validates them
with Great Expectations)."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor, Future
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

SAMPLE_SIZE = 10

COUNT = "__rows"  # rows holding each distinct value (or key count)
KEYS = "__keys"  # `unique`: keys having that count


class Distinct:
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
        duplicated = grouped.filter(pl.col(COUNT) > 1).sort(list(names))
        found = duplicated.head(SAMPLE_SIZE).drop(COUNT).to_dicts()
        return [r[names[0]] for r in found] if len(names) == 1 else found


def _strictly_increasing(key: pa.Array) -> bool:
    if len(key) < 2:
        return True
    return bool(pc.all(pc.greater(key.slice(1), key.slice(0, len(key) - 1))).as_py())
