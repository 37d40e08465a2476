"""The engine seam: what a product plan needs from whatever runs its steps.

An engine runs a plan's steps over input datasets (Arrow tables or datasets, read from the
lake), returns the result as an Arrow table with what the run consumed, and exposes the
platform's SQL functions (`registry/functions.py`) under their catalogue names. The local
engine (DuckDB for SQL, polars for standard and Python steps) lives in `engine/duckdb/`; a
Spark engine plugs in beside it through `engine/registry.py`.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from mesh_platform.compile.plan import ProductPlan
    from mesh_platform.lake.partitions import PartitionSlice

InputData = Any  # a pyarrow Table or Dataset: anything an engine can scan


@dataclass(frozen=True)
class StepPreview:
    """A step's result as an analyst sees it while developing: schema, rows and a sample."""

    name: str
    kind: str
    schema: dict[str, str]
    rows: int
    sample: pl.DataFrame


@dataclass(frozen=True)
class Usage:
    """What one run consumed: wall and CPU time (every thread of the process and its children),
    rows and bytes read and written, and the process's peak memory.

    `process_peak_memory_mb` is the peak resident memory of the whole process over its
    lifetime so far (`ru_maxrss`), not of this run alone: in a long-lived process (a test
    session, an in-process executor) it may come from earlier work.
    """

    wall_seconds: float
    cpu_seconds: float
    rows_out: int = 0
    bytes_out: int = 0
    rows_in: int = 0
    bytes_in: int = 0
    process_peak_memory_mb: float = 0.0


@dataclass(frozen=True)
class EngineRun:
    """An engine's result: the product's rows, and what computing them consumed."""

    table: pa.Table
    usage: Usage = field(default_factory=lambda: Usage(0.0, 0.0))


class Engine(Protocol):
    """Runs product plans. Implementations are registered by name in `engine/registry.py`."""

    name: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]  # shown on the product's asset (e.g. `duckdb`, `polars`)
    # Whether `run` may be given an input as its Delta table's URI, to read the lake itself
    # (a cluster engine), instead of an Arrow dataset read in this process.
    reads_lake_uris: ClassVar[bool]

    def run(
        self,
        plan: ProductPlan,
        inputs: Mapping[str, InputData],
        partition: PartitionSlice | None = None,
    ) -> EngineRun:
        """Run every step; the result holds only `partition`'s rows when one is given."""
        ...

    def preview(
        self, plan: ProductPlan, inputs: Mapping[str, InputData], rows: int = 5
    ) -> list[StepPreview]:
        """Each step's schema, row count and first `rows` rows."""
        ...

    def query(self, sql: str, tables: Mapping[str, InputData]) -> pa.Table:
        """One Spark SQL query over named tables (quality rules written as SQL use this)."""
        ...

    def sql_functions(self) -> tuple[str, ...]:
        """The catalogue's SQL functions this engine provides, by name."""
        ...


@runtime_checkable
class StreamingEngine(Protocol):
    """An engine that can give its result as record batches computed as they are read, so
    that a run never holds it whole (`run/staged.py`)."""

    def stream(
        self,
        plan: ProductPlan,
        inputs: Mapping[str, InputData],
        partition: PartitionSlice | None = None,
    ) -> AbstractContextManager[pa.RecordBatchReader]:
        """Run every step; the context yields the result's reader."""
        ...


class UsageMeter:
    """Measures the wall and CPU time of a block (CPU of every thread, and of child processes)."""

    def __init__(self) -> None:
        self.usage = Usage(0.0, 0.0)

    @staticmethod
    def _peak_memory_mb() -> float:
        # Linux reports ru_maxrss in KiB (macOS in bytes; Mesh runs on Linux).
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    @staticmethod
    def _cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    @contextmanager
    def measure(self) -> Iterator[None]:
        """Measure the block; the result is in `usage` afterwards."""
        wall, cpu = time.perf_counter(), self._cpu()
        try:
            yield
        finally:
            self.usage = Usage(
                round(time.perf_counter() - wall, 4),
                round(self._cpu() - cpu, 4),
                process_peak_memory_mb=self._peak_memory_mb(),
            )

