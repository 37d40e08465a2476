"""What an incremental product's run reads and how it writes (docs/incremental.md).

Before anything is read: the table as it is now (`base`), its high-water mark of the
incremental column, and the window the run recomputes (the mark minus the lookback). The
inputs are then scanned only from the window on (the column is taken unchanged from one
input's column: `compile/writes.py`), and the result is committed through `base`
(`lake/increments.py`), exactly once. A product's first run, and a run asked for a full
refresh, compute everything and replace the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mesh_platform.errors import BusinessLogicError
from mesh_platform.lake.increments import (
    Increment,
    Window,
    high_water_mark,
    scd2_columns,
    source_condition,
    without_deleted,
)
from mesh_platform.run.staged import Result, in_memory
from mesh_platform.spec.writes import SCD2_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

    from mesh_platform.compile.plan import ProductPlan
    from mesh_platform.lake.lakehouse import Lakehouse, WriteResult
    from mesh_platform.spec.model import ProductSpec

# A run tag (and `mesh materialize --full-refresh`): rebuild an incremental product from scratch.
FULL_REFRESH_TAG = "mesh/full_refresh"


@dataclass(frozen=True)
class RunWrite:
    """How this run of a product reads its inputs and writes its table."""

    spec: ProductSpec
    run_id: str
    base: DeltaTable | None = None  # the table as read before the run (incremental writes)
    window: Window | None = None  # the rows recomputed; None: the whole result
    source: tuple[str, str] | None = None  # (input port, column) the window filters

    @property
    def incremental(self) -> bool:
        """Whether the run changes the table rather than replacing it."""
        return self.base is not None and (self.window is not None or self.spec.write != "overwrite")

    def inputs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The inputs as the run reads them: the window's input scanned from its start on."""
        import pyarrow.compute as pc

        if self.window is None or self.source is None:
            return dict(inputs)
        port, column = self.source
        scanned = dict(inputs)
        scanned[port] = inputs[port].filter(pc.field(column) >= self.window.start)
        return scanned

    def write(self, lakehouse: Lakehouse, table: Result) -> WriteResult:
        """Commit the conformed result: changed in, or replacing the table."""
        spec = self.spec
        mark = self._mark(table)
        if spec.write == "scd2":  # a history is built in memory
            table = in_memory(table)
        if not self.incremental or self.base is None:
            stored = scd2_columns(table, _now()) if spec.write == "scd2" else table
            if spec.delete_when is not None:
                stored = without_deleted(stored, spec.delete_when)
            run = Increment("overwrite", run_id=self.run_id, high_water_mark=mark)
            return lakehouse.write(spec.key, stored, run=run)
        _check_same_columns(spec, self.base, table)
        increment = Increment(
            spec.write,
            keys=spec.keys,
            delete_when=source_condition(spec.delete_when) if spec.delete_when else None,
            window=self.window,
            run_id=self.run_id,
            high_water_mark=mark,
            as_of=_now(),
        )
        return lakehouse.write_increment(spec.key, table, increment, self.base)

    def _mark(self, table: pa.Table) -> str | None:
        """The high-water mark after this run: the largest incremental value written, or the
        one before when the run added none."""
        import pyarrow.compute as pc

        incremental = self.spec.incremental
        if incremental is None:
            return None
        largest = pc.max(table.column(incremental.column)).as_py() if table.num_rows else None
        before = self.window.start if self.window is not None else None
        found = largest if largest is not None else before
        return None if found is None else found.isoformat()


def plan_write(
    spec: ProductSpec,
    plan: ProductPlan,
    lakehouse: Lakehouse,
    run_id: str = "",
    full_refresh: bool = False,
) -> RunWrite:
    """How this run reads and writes (see the module's docstring)."""
    if spec.write == "overwrite" and spec.incremental is None:
        return RunWrite(spec, run_id)
    base = None if full_refresh else lakehouse.base(spec.key)
    if base is None or spec.incremental is None:
        return RunWrite(spec, run_id, base)
    column = spec.incremental.column
    mark = high_water_mark(base, column)
    if mark is None:  # an empty table: everything is new
        return RunWrite(spec, run_id, base)
    start = _minus(mark, spec.incremental.lookback)
    return RunWrite(spec, run_id, base, Window(column, start), window_source(spec, plan))


def window_source(spec: ProductSpec, plan: ProductPlan) -> tuple[str, str]:
    """The input column the incremental column is taken from (checked at load)."""
    assert spec.incremental is not None
    (found,) = [c for c in plan.columns if c.name == spec.incremental.column]
    return found.sources[0]


def _minus(mark: date | datetime, lookback: timedelta) -> date | datetime:
    if isinstance(mark, datetime):
        return mark - lookback
    return mark - timedelta(days=lookback.days)


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _check_same_columns(spec: ProductSpec, base: DeltaTable, table: pa.Table) -> None:
    """An incremental write keeps the table's columns; a changed contract needs a rebuild."""
    added = SCD2_COLUMNS if spec.write == "scd2" else ()
    stored = [f.name for f in base.schema().fields if f.name not in added]
    if stored != table.column_names:
        raise BusinessLogicError(
            f"{spec.qualified_name}: the result's columns ({', '.join(table.column_names)}) are "
            f"not the table's ({', '.join(stored)}): an incremental run cannot change them; "
            f"nothing was written. Fix: rebuild it once with `mesh materialize "
            f"{spec.qualified_name} --full-refresh` (or the `{FULL_REFRESH_TAG}: true` tag)"
        )
