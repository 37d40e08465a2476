"""Grouping a result spilled to disk (`run/staged.py`) for its quality rules, in DuckDB.

The same groups as `groups.Distinct` makes in memory (each distinct value with the rows
behind it, a column's nullness, how often keys occur), computed by SQL over the spilled files
in one DuckDB database under the local engine's memory limit, spilling beyond it: a rule over
a result of any size holds only its groups, never the result's columns.
"""

from __future__ import annotations

import threading
from typing import Any

import pyarrow as pa

from mesh_platform.quality.groups import COUNT, KEYS, SAMPLE_SIZE, Distinct


class SpilledDistinct(Distinct):
    """`Distinct` over a spilled result's files (`table.dataset`), grouped by DuckDB."""

    def __init__(self, table: Any) -> None:
        from mesh_platform.lake.scratch import local_database

        super().__init__(table)
        self._database = local_database()
        self._lock = threading.Lock()

    def _sql(self, query: str) -> pa.Table:
        with self._lock:  # a cursor per query: groupings run in the prefetch's threads
            cursor = self._database.cursor()
        try:
            cursor.register("result", self.table.dataset)  # a cursor sees its own views only
            return cursor.sql(query).to_arrow_table()
        finally:
            cursor.close()

    def _grouped(self, names: tuple[str, ...]) -> Any:
        import polars as pl

        found = pl.from_arrow(
            self._sql(f"SELECT {_cols(names)}, count(*) AS {COUNT} FROM result GROUP BY ALL")
        )
        assert isinstance(found, pl.DataFrame)
        return found

    def _nullness(self, names: tuple[str, ...]) -> pa.Table:
        (name,) = names
        column = _cols(names)
        counts = self._sql(
            f"SELECT count({column}) AS valid, count(*) - count({column}) AS nulls, "
            f"any_value({column}) AS one FROM result"
        ).to_pylist()[0]
        values = ([counts["one"]] if counts["valid"] else []) + ([None] if counts["nulls"] else [])
        rows = ([counts["valid"]] if counts["valid"] else []) + (
            [counts["nulls"]] if counts["nulls"] else []
        )
        kind = self.table.schema.field(name).type
        return pa.table({name: pa.array(values, kind), COUNT: pa.array(rows, pa.int64())})

    def _values(self, names: tuple[str, ...]) -> pa.Table:
        grouped = self._sql(f"SELECT {_cols(names)}, count(*) AS {COUNT} FROM result GROUP BY ALL")
        return grouped.cast(
            pa.schema([*(self.table.schema.field(n) for n in names), (COUNT, pa.int64())])
        )

    def _key_counts(self, names: tuple[str, ...]) -> pa.Table:
        return self._sql(
            f"SELECT {COUNT}, count(*) AS {KEYS} FROM (SELECT count(*) AS {COUNT} FROM result "
            f"GROUP BY {_cols(names)}) GROUP BY {COUNT}"
        )

    def duplicate_keys(self, names: tuple[str, ...]) -> list[Any]:
        found = self._sql(
            f"SELECT {_cols(names)} FROM result GROUP BY ALL HAVING count(*) > 1 "
            f"ORDER BY ALL LIMIT {SAMPLE_SIZE}"
        ).to_pylist()
        return [r[names[0]] for r in found] if len(names) == 1 else found

    def close(self) -> None:
        """Release the database (and its spill files)."""
        self._database.close()


def _cols(names: tuple[str, ...]) -> str:
    return ", ".join(f'"{n}"' for n in names)
