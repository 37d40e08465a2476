"""The local engine: DuckDB for SQL steps, polars for standard and Python steps.

Inputs are registered as lazily scanned Arrow datasets and consecutive SQL steps become views,
so DuckDB plans the whole chain at once and reads only the columns and rows it needs. DuckDB
was chosen over polars' SQL context by measurement on the TPC-H queries (bench/engines.py):
polars rejects Spark's interval arithmetic after transpilation, DuckDB runs it unchanged.
Domain SQL runs with DuckDB's file and network access switched off.

One in-memory DuckDB database per process (per thread setting) holds the settings and the
catalogue's functions, made once: each run, preview or query gets a cursor of its own (DuckDB's
connection to the same database: thread-safe to use from its own thread), registers its inputs
and steps there as temporary views, and closes it, so nothing of one product is visible to
another. An engine with a keyring keeps its own database, since the keyed functions hold keys.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

import duckdb
import pyarrow as pa
import sqlglot

from mesh_platform.compile.plan import PlannedStep, ProductPlan
from mesh_platform.config import environment
from mesh_platform.engine.base import EngineRun, InputData, StepPreview, UsageMeter
from mesh_platform.engine.duckdb.functions import provided, register_functions
from mesh_platform.engine.duckdb.translate import to_duckdb
from mesh_platform.engine.python_steps import apply_standard, call_python
from mesh_platform.errors import EngineFailure, PlatformError, StepFailed
from mesh_platform.lake.partitions import PartitionSlice
from mesh_platform.security.keys import Keyring
from mesh_platform.security.policy import needs_keys

if TYPE_CHECKING:
    import polars as pl  # standard and Python steps and previews only: imported when used

# Failures of the engine or its storage rather than of the step's logic.
_PLATFORM_CAUSES: tuple[type[BaseException], ...] = (
    PlatformError,
    OSError,
    MemoryError,
    duckdb.IOException,
    duckdb.OutOfMemoryException,
)


# Settings of every database, global so that every cursor inherits them, then locked.
_SETTINGS = (
    # Spark's (non-ANSI) answers: x % 0 and x div 0 are NULL; times are read in UTC.
    "SET GLOBAL error_on_division_by_zero = false",
    "SET GLOBAL TimeZone = 'UTC'",
    # Domain SQL reads only the registered inputs: no files, no network, no extensions.
    "SET GLOBAL autoinstall_known_extensions = false",
    "SET GLOBAL autoload_known_extensions = false",
    "SET GLOBAL enable_external_access = false",
    "SET GLOBAL lock_configuration = true",
)
_SHARED: dict[tuple[int | None, str], duckdb.DuckDBPyConnection] = {}  # keyless, by settings
_LOCK = threading.Lock()
BATCH_ROWS = 122_880  # rows per record batch of a streamed result (DuckDB's vector size x 60)


def _new_database(
    threads: int | None, keys: Keyring | None, memory: str = "2GB"
) -> duckdb.DuckDBPyConnection:
    """An in-memory database with the platform's functions and locked settings; beyond
    `memory` its joins, aggregates and sorts spill to a temporary folder."""
    con = duckdb.connect()
    if threads:
        con.execute(f"SET GLOBAL threads = {int(threads)}")
    con.execute(f"SET GLOBAL memory_limit = '{memory}'")
    con.execute(f"SET GLOBAL temp_directory = '{environment.duckdb_spill_folder()}'")
    register_functions(con, keys)
    for setting in _SETTINGS:
        con.execute(setting)
    return con


def _shared_database(threads: int | None, memory: str) -> duckdb.DuckDBPyConnection:
    """The process's keyless database for these settings (made on first use, closed at exit)."""
    con = _SHARED.get((threads, memory))
    if con is None:
        con = _SHARED[(threads, memory)] = _new_database(threads, None, memory)
        if len(_SHARED) == 1:
            atexit.register(_close_shared)
    return con


def _close_shared() -> None:
    while _SHARED:
        _SHARED.popitem()[1].close()


class DuckDBEngine:
    """Runs a product plan on one machine (the `local` engine)."""

    name: ClassVar[str] = "local"
    kinds: ClassVar[tuple[str, ...]] = ("duckdb",)
    reads_lake_uris: ClassVar[bool] = False  # DuckDB scans the Arrow datasets it is given

    def __init__(
        self, threads: int | None = None, keys: Keyring | None = None, memory: str | None = None
    ) -> None:
        self.threads = threads
        self.keys = keys
        # Beyond this the database spills to disk (`MESH_DUCKDB_MEMORY_LIMIT`).
        self.memory = memory or environment.local_engine_memory()
        self._own: duckdb.DuckDBPyConnection | None = None  # the keyed engine's database

    def sql_functions(self) -> tuple[str, ...]:
        """The catalogue's SQL functions, all provided as macros or Arrow UDFs."""
        return provided()

    def _database(self) -> duckdb.DuckDBPyConnection:
        if self.keys is None:
            return _shared_database(self.threads, self.memory)
        if self._own is None:
            self._own = _new_database(self.threads, self.keys, self.memory)
            weakref.finalize(self, self._own.close)
        return self._own

    def _connect(self, inputs: Mapping[str, InputData]) -> duckdb.DuckDBPyConnection:
        """A fresh cursor of the engine's database with `inputs` registered; close it after."""
        with _LOCK:
            con = self._database().cursor()
        for port, source in inputs.items():
            con.register(port, source)
        return con

    def run(
        self,
        plan: ProductPlan,
        inputs: Mapping[str, InputData],
        partition: PartitionSlice | None = None,
    ) -> EngineRun:
        """Run every step and return the final result (only `partition`'s rows, if given).

        A plan that calls a keyed function fails before any step when the keyring has no
        current key: a platform setting, named in the message, not the domain's logic.
        """
        if needs_keys(step.query for step in plan.steps):
            (self.keys or Keyring({}, None)).require()
        meter = UsageMeter()
        with meter.measure():
            con = self._connect(inputs)
            try:
                last = self._run_steps(con, plan, inputs, None, 0)
                where = f" WHERE {partition.predicate()}" if partition else ""
                try:
                    table = con.sql(f"SELECT * FROM {last}{where}").to_arrow_table()
                except duckdb.Error as exc:
                    raise _failure(plan.steps[-1], exc) from exc
            finally:
                con.close()
        usage = replace(meter.usage, rows_out=table.num_rows, bytes_out=table.nbytes)
        return EngineRun(table, usage)

    @contextmanager
    def stream(
        self,
        plan: ProductPlan,
        inputs: Mapping[str, InputData],
        partition: PartitionSlice | None = None,
    ) -> Iterator[pa.RecordBatchReader]:
        """Run every step and yield the result as record batches, computed as they are read
        (the result is never whole in memory; DuckDB spills beyond its memory limit). The
        reader is valid inside the block; a step's failure is raised as `run` raises it."""
        if needs_keys(step.query for step in plan.steps):
            (self.keys or Keyring({}, None)).require()
        con = self._connect(inputs)
        try:
            last = self._run_steps(con, plan, inputs, None, 0)
            where = f" WHERE {partition.predicate()}" if partition else ""
            step = plan.steps[-1]
            try:
                reader = con.sql(f"SELECT * FROM {last}{where}").to_arrow_reader(BATCH_ROWS)
            except duckdb.Error as exc:
                raise _failure(step, exc) from exc
            yield pa.RecordBatchReader.from_batches(reader.schema, _mapped(reader, step))
        finally:
            con.close()

    def preview(
        self, plan: ProductPlan, inputs: Mapping[str, InputData], rows: int = 5
    ) -> list[StepPreview]:
        """Each step's schema, row count and first rows."""
        previews: list[StepPreview] = []
        con = self._connect(inputs)
        try:
            self._run_steps(con, plan, inputs, previews.append, rows)
        finally:
            con.close()
        return previews

    def preview_step(
        self,
        plan: ProductPlan,
        inputs: Mapping[str, InputData],
        rows: int = 5,
        *,
        given: Mapping[str, InputData] | None = None,
        keep: int = 0,
        count: bool = False,
    ) -> tuple[StepPreview, pa.Table | None]:
        """The plan's last step only (the builder's node): its schema and first `rows` rows,
        read with a LIMIT, so DuckDB stops early where the step allows it (no count, no other
        step's sample). Steps named in `given` are those tables, not computed again. The
        result is returned whole when it has at most `keep` rows; the preview's `rows` is its
        count when known (whole, or `count`), else -1."""
        con = self._connect({**inputs, **(given or {})})
        try:
            self._run_steps(con, plan, inputs, None, 0, skip=frozenset(given or ()))
            step = plan.steps[-1]
            try:
                return _limited(con, step, rows, keep, count)
            except duckdb.Error as exc:
                raise _failure(step, exc) from exc
        finally:
            con.close()

    def query(self, sql: str, tables: Mapping[str, InputData]) -> pa.Table:
        """One Spark SQL query over `tables`, transpiled to DuckDB."""
        con = self._connect(tables)
        try:
            return con.sql(to_duckdb(sqlglot.parse_one(sql, read="spark"), con)).to_arrow_table()
        finally:
            con.close()

    def _run_steps(
        self,
        con: duckdb.DuckDBPyConnection,
        plan: ProductPlan,
        inputs: Mapping[str, InputData],
        on_step: Callable[[StepPreview], None] | None,
        preview_rows: int,
        skip: frozenset[str] = frozenset(),
    ) -> str:
        previous: str | None = None
        for step in plan.steps:
            try:
                if step.name not in skip:  # a step given as a table (`preview_step`)
                    self._run_step(con, step, previous, inputs)
                if on_step is not None:  # a preview computes the step's view here
                    on_step(_preview(con, step, preview_rows))
            except (StepFailed, EngineFailure):
                raise
            except Exception as exc:
                raise _failure(step, exc) from exc
            previous = step.name
        assert previous is not None, "a plan without steps has nothing to run"
        return previous

    def _run_step(
        self,
        con: duckdb.DuckDBPyConnection,
        step: PlannedStep,
        previous: str | None,
        inputs: Mapping[str, InputData],
    ) -> None:
        if step.query is not None:  # SQL steps and standard steps compiled to SQL
            con.execute(f"CREATE OR REPLACE TEMP VIEW {step.name} AS {to_duckdb(step.query, con)}")
            return
        assert previous is not None
        frame = con.sql(f"SELECT * FROM {previous}").pl().lazy()
        if step.kind == "standard":
            result = apply_standard(step.standard or "", frame, step.params)
        else:

            def frames() -> dict[str, pl.LazyFrame]:
                return {port: con.sql(f"SELECT * FROM {port}").pl().lazy() for port in inputs}

            result = call_python(step.python or "", frame, frames, step=step.name)
        con.register(step.name, result.to_arrow())


def _mapped(reader: pa.RecordBatchReader, step: PlannedStep) -> Iterator[pa.RecordBatch]:
    """The reader's batches; an engine error while computing them is the step's failure."""
    try:
        yield from reader
    except (duckdb.Error, pa.ArrowException) as exc:
        raise _failure(step, exc) from exc


def _failure(step: PlannedStep, cause: BaseException) -> StepFailed | EngineFailure:
    """The step's failure: the platform's when the engine or storage failed, else the step's."""
    if isinstance(cause, _PLATFORM_CAUSES):
        return EngineFailure(step.name, step.kind, cause)
    return StepFailed(step.name, step.kind, cause)


def _preview(con: duckdb.DuckDBPyConnection, step: PlannedStep, rows: int) -> StepPreview:
    import polars as pl

    relation = con.sql(f"SELECT * FROM {step.name}")
    schema = {
        name: str(dtype) for name, dtype in zip(relation.columns, relation.types, strict=True)
    }
    ((count,),) = con.sql(f"SELECT count(*) FROM {step.name}").fetchall()
    sample = pl.DataFrame()
    if rows:
        sample = con.sql(f"SELECT * FROM {step.name} LIMIT {int(rows)}").pl()
    return StepPreview(step.name, step.kind, schema, int(count), sample)


def _limited(
    con: duckdb.DuckDBPyConnection, step: PlannedStep, rows: int, keep: int, count: bool
) -> tuple[StepPreview, pa.Table | None]:
    """`step`'s first rows (its whole result when it has at most `keep` rows) and count."""
    import polars as pl

    table = con.sql(f"SELECT * FROM {step.name} LIMIT {int(max(rows, keep + 1 if keep else 0))}")
    found = table.to_arrow_table()
    whole = found if keep and found.num_rows <= keep else None
    size = whole.num_rows if whole is not None else -1
    if count and whole is None:
        ((size,),) = con.sql(f"SELECT count(*) FROM {step.name}").fetchall()
    frame = pl.from_arrow(found.slice(0, rows)) if rows else pl.DataFrame()
    assert isinstance(frame, pl.DataFrame)
    schema = {n: str(t) for n, t in zip(table.columns, table.types, strict=True)}
    return StepPreview(step.name, step.kind, schema, int(size), frame), whole
