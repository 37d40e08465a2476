"""The Spark engine: product plans on Spark, with the local engine's answers.

SQL steps run as Spark SQL (the dialect they are written in), with the catalogue's functions
expanded or registered (`functions.py`); standard and Python steps run in polars, their
frames handed over through Arrow. Each run, preview or query gets a session of its own
(`newSession`: shared SparkContext and cache, its own temporary views, functions and SQL
settings), so nothing of one product is visible to another and runs may go concurrently.

The result comes back to the driver as Arrow: the lakehouse owns writing (atomic Delta
commits, partition predicates) for every engine, so products keep the same tables whichever
engine computed them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl
import pyarrow as pa
import sqlglot

from mesh_platform.compile.plan import PlannedStep, ProductPlan
from mesh_platform.engine.base import EngineRun, InputData, StepPreview, UsageMeter
from mesh_platform.engine.python_steps import apply_standard, call_python
from mesh_platform.engine.spark import functions
from mesh_platform.engine.spark import session as sessions
from mesh_platform.engine.spark.frames import to_arrow, to_frame
from mesh_platform.errors import EngineFailure, PlatformError, StepFailed
from mesh_platform.lake.partitions import PartitionSlice
from mesh_platform.security.keys import Keyring
from mesh_platform.security.policy import needs_keys

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_REMOTE_LOCK = threading.Lock()  # a Spark Connect session has no `newSession`: runs take turns


class SparkEngine:
    """Runs product plans on Spark (the `spark` engine).

    `pyspark` is where the session comes from: dagster-pyspark's `PySparkResource` (the run's
    `pyspark` resource, `engine_resources("spark")`), a `SparkSession`, or None for the
    process's session built from the deployment's settings (`MESH_SPARK_MASTER`). `threads`
    is accepted for the engine protocol's callers; Spark's parallelism is the master's
    (`local[N]`, the cluster's executors).
    """

    name: ClassVar[str] = "spark"
    kinds: ClassVar[tuple[str, ...]] = ("spark",)
    # Inputs may be given as Delta table URIs: Spark then reads the Parquet files itself.
    reads_lake_uris: ClassVar[bool] = True

    def __init__(
        self, threads: int | None = None, keys: Keyring | None = None, pyspark: Any = None
    ) -> None:
        self.threads = threads
        self.keys = keys
        self._spark = pyspark

    def session(self) -> SparkSession:
        """The Spark session runs are made from."""
        source = self._spark
        if source is None:
            return sessions.spark_session()
        if hasattr(source, "spark_session"):  # dagster-pyspark's PySparkResource
            return source.spark_session  # type: ignore[no-any-return]
        return source  # type: ignore[no-any-return]

    def sql_functions(self) -> tuple[str, ...]:
        """The catalogue's SQL functions, inlined as Spark SQL or registered as Arrow UDFs."""
        return functions.provided()

    @contextmanager
    def _scope(self, inputs: Mapping[str, InputData], keyed: bool) -> Iterator[SparkSession]:
        """A session of this run's own, with the SQL semantics, keyed UDFs and `inputs`."""
        root = self.session()
        remote = sessions.is_remote(root)
        if remote:
            _REMOTE_LOCK.acquire()
        try:
            spark = root if remote else root.newSession()
            for key, value in sessions.SEMANTICS.items():
                spark.conf.set(key, value)
            if keyed:
                functions.register_keyed(spark, self.keys or Keyring({}, None))
            for port, source in inputs.items():
                to_frame(spark, source).createOrReplaceTempView(port)
            yield spark
        finally:
            if remote:
                for port in inputs:
                    root.catalog.dropTempView(port)
                _REMOTE_LOCK.release()

    def _require_keys(self, queries: Any) -> bool:
        if not needs_keys(queries):
            return False
        (self.keys or Keyring({}, None)).require()
        return True

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
        keyed = self._require_keys(step.query for step in plan.steps)
        meter = UsageMeter()
        jvm_before = _jvm_cpu(self.session())
        with meter.measure(), self._scope(inputs, keyed) as spark:
            last = self._run_steps(spark, plan, inputs, None, 0)
            try:
                frame = spark.table(last)
                if partition is not None:
                    frame = frame.where(partition.predicate())
                table = to_arrow(frame)
            except Exception as exc:
                raise _failure(plan.steps[-1], exc) from exc
        jvm = max(_jvm_cpu(self.session()) - jvm_before, 0.0)
        usage = replace(
            meter.usage,
            cpu_seconds=round(meter.usage.cpu_seconds + jvm, 4),
            rows_out=table.num_rows,
            bytes_out=table.nbytes,
        )
        return EngineRun(table, usage)

    def preview(
        self, plan: ProductPlan, inputs: Mapping[str, InputData], rows: int = 5
    ) -> list[StepPreview]:
        """Each step's schema, row count and first rows."""
        previews: list[StepPreview] = []
        keyed = self._require_keys(step.query for step in plan.steps)
        with self._scope(inputs, keyed) as spark:
            self._run_steps(spark, plan, inputs, previews.append, rows)
        return previews

    def query(self, sql: str, tables: Mapping[str, InputData]) -> pa.Table:
        """One Spark SQL query over `tables` (a quality rule's `sql:`)."""
        parsed = sqlglot.parse_one(sql, read="spark")
        keyed = self._require_keys([parsed])
        with self._scope(tables, keyed) as spark:
            return to_arrow(spark.sql(functions.to_spark_sql(parsed)))

    def _run_steps(
        self,
        spark: SparkSession,
        plan: ProductPlan,
        inputs: Mapping[str, InputData],
        on_step: Callable[[StepPreview], None] | None,
        preview_rows: int,
    ) -> str:
        previous: str | None = None
        for step in plan.steps:
            try:
                self._run_step(spark, step, previous, inputs)
                if on_step is not None:
                    on_step(_preview(spark, step, preview_rows))
            except (StepFailed, EngineFailure):
                raise
            except Exception as exc:
                raise _failure(step, exc) from exc
            previous = step.name
        assert previous is not None, "a plan without steps has nothing to run"
        return previous

    @staticmethod
    def _run_step(
        spark: SparkSession,
        step: PlannedStep,
        previous: str | None,
        inputs: Mapping[str, InputData],
    ) -> None:
        if step.query is not None:  # SQL steps and standard steps compiled to SQL
            spark.sql(functions.to_spark_sql(step.query)).createOrReplaceTempView(step.name)
            return
        assert previous is not None
        frame = _polars_of(spark.table(previous))
        if step.kind == "standard":
            result = apply_standard(step.standard or "", frame.lazy(), step.params)
        else:

            def frames() -> dict[str, pl.LazyFrame]:
                return {port: _polars_of(spark.table(port)).lazy() for port in inputs}

            result = call_python(step.python or "", frame.lazy(), frames, step=step.name)
        to_frame(spark, result).createOrReplaceTempView(step.name)


def _platform_causes() -> tuple[type[BaseException], ...]:
    """Failures of the engine or its storage rather than of the step's logic: the JVM gone or
    unreachable, a Java error pyspark does not convert (out of memory, I/O)."""
    from py4j.protocol import Py4JError

    return (PlatformError, OSError, MemoryError, Py4JError)


def _failure(step: PlannedStep, cause: BaseException) -> StepFailed | EngineFailure:
    """The step's failure: the platform's when the engine or storage failed, else the step's."""
    if isinstance(cause, _platform_causes()):
        return EngineFailure(step.name, step.kind, cause)
    return StepFailed(step.name, step.kind, cause)


def _preview(spark: SparkSession, step: PlannedStep, rows: int) -> StepPreview:
    frame = spark.table(step.name)
    schema = {field.name: field.dataType.simpleString() for field in frame.schema.fields}
    sample = pl.DataFrame()
    if rows:
        sample = _polars_of(frame.limit(int(rows)))
    return StepPreview(step.name, step.kind, schema, int(frame.count()), sample)


def _polars_of(frame: Any) -> pl.DataFrame:
    result = pl.from_arrow(to_arrow(frame))
    assert isinstance(result, pl.DataFrame)
    return result


def _jvm_cpu(spark: SparkSession) -> float:
    """CPU seconds of the local JVM (driver and, in local mode, the executors); 0 elsewhere.

    Read from /proc: a child process's CPU reaches RUSAGE_CHILDREN only when it ends, and the
    JVM lives as long as the session.
    """
    if sessions.is_remote(spark):
        return 0.0
    try:
        pid = int(spark.sparkContext._jvm.ProcessHandle.current().pid())  # type: ignore[union-attr]
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        # utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the command name.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError, IndexError):
        return 0.0
