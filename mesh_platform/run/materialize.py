"""One materialization of a product: inputs, engine, contract, quality gate, atomic write.

Engine-neutral and Dagster-free: the asset (`dagster/asset_run.py`) calls it with the checks
it built from its resources (the subscription check, the quality gate) and turns what it
returns into the materialization's metadata. What the whole materialization consumed (CPU of
the process and its children, wall time, rows and bytes read and written) is measured here,
around every stage, so that cost tracking (`cost/`) sees reading and writing too, not only the
engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa

from mesh_platform.access.scope import Scopes
from mesh_platform.compile.plan import ProductPlan
from mesh_platform.engine import Engine, Usage, get_engine
from mesh_platform.engine.base import StreamingEngine, UsageMeter
from mesh_platform.errors import MissingUpstream, PlatformError
from mesh_platform.lake.lakehouse import Lakehouse, WriteResult
from mesh_platform.lake.partitions import PartitionSlice
from mesh_platform.run.conform import conform
from mesh_platform.run.incremental import RunWrite, plan_write
from mesh_platform.run.landing import read_landing
from mesh_platform.run.landing_folder import FolderRun, read_folder
from mesh_platform.run.scope import scope_inputs
from mesh_platform.run.staged import Result, stage
from mesh_platform.security.keys import Keyring
from mesh_platform.spec.model import ProductSpec


@dataclass(frozen=True)
class Materialized:
    """What a materialization wrote, and what it cost.

    `usage` covers the whole materialization (read, engine, contract, quality gate, write);
    `engine_usage` the engine's run alone.
    """

    table: pa.Table
    written: WriteResult
    seconds: float
    usage: Usage
    warnings: tuple[str, ...] = ()
    engine_usage: Usage = field(default_factory=lambda: Usage(0.0, 0.0))
    table_rows: int | None = None  # the table's rows after the write


def stored_size(dataset: Any, partition: PartitionSlice | None = None) -> tuple[int, int]:
    """Rows and bytes of a stored dataset (a Delta table's current files), `partition`'s only
    when given.

    Cheap: row counts come from the Parquet footers and sizes from the file listing; no data
    page is read.
    """
    import pyarrow.compute as pc

    where = None
    if partition is not None:
        column = pc.field(partition.column)
        where = (column >= pc.scalar(partition.start)) & (column < pc.scalar(partition.end))
    fragments = list(dataset.get_fragments(filter=where))
    if not fragments:
        return 0, 0
    rows = sum(f.count_rows() for f in fragments)
    infos = dataset.filesystem.get_file_info([f.path for f in fragments])
    return rows, sum(max(info.size or 0, 0) for info in infos)


def _input(lakehouse: Lakehouse, spec: ProductSpec, port: str, ref: tuple[str, str]) -> Any:
    """An input's current version; `MissingUpstream` (the consumer's problem) when it was never
    written, the lakehouse's platform error when storage fails."""
    from deltalake.exceptions import TableNotFoundError

    try:
        return lakehouse.dataset(ref)
    except PlatformError as exc:
        # The lakehouse raises its "no table yet" error from the TableNotFoundError it caught.
        if isinstance(exc.__context__, TableNotFoundError):
            raise MissingUpstream(spec.qualified_name, port, ".".join(ref)) from None
        raise


def inputs_size(lakehouse: Lakehouse, spec: ProductSpec) -> tuple[int, int]:
    """Rows and bytes of the product's inputs' current versions (from their Delta logs)."""
    sizes = [lakehouse.stored(ref) for ref in spec.input_refs().values()]
    return sum(r for r, _ in sizes), sum(b for _, b in sizes)


def _computed(
    engine: Engine,
    plan: ProductPlan,
    inputs: Mapping[str, Any],
    partition: PartitionSlice | None,
    product: str,
) -> tuple[Result, Usage]:
    """The engine's result, conformed to the contract: streamed batch by batch within a
    memory budget by an engine that can (`run/staged.py`), else whole."""
    if isinstance(engine, StreamingEngine):
        meter = UsageMeter()
        with meter.measure(), engine.stream(plan, inputs, partition) as reader:
            table = stage(reader, lambda batch: conform(batch, plan, product))
        return table, replace(meter.usage, rows_out=table.num_rows, bytes_out=table.nbytes)
    result = engine.run(plan, inputs, partition)
    return conform(result.table, plan, product), result.usage


@dataclass(frozen=True)
class _Read:
    """What a run computed or ingested, conformed, before the gate and the write."""

    table: Result
    usage: Usage
    rows_in: int
    bytes_in: int
    warnings: tuple[str, ...] = ()
    folder: FolderRun | None = None  # a landing folder's run: it commits its own files


def _ingested(
    spec: ProductSpec, plan: ProductPlan, lakehouse: Lakehouse, run_id: str, full_refresh: bool
) -> _Read:
    """A landing export (or a folder's new files), batch by batch, conformed, within the
    memory budget (`run/staged.py`)."""
    assert spec.source is not None
    folder = None
    if spec.source.folder:  # only the files not ingested yet (run/landing_folder.py)
        folder = read_folder(lakehouse, spec, run_id, full_refresh)
        data, warnings = folder.data, list(folder.warnings)
    else:
        data, warnings = read_landing(lakehouse, spec)
    table = stage(data, lambda batch: conform(batch, plan, spec.qualified_name))
    usage = Usage(0.0, 0.0, table.num_rows, table.nbytes)
    return _Read(table, usage, table.num_rows, table.nbytes, tuple(warnings), folder)


def _from_inputs(
    spec: ProductSpec,
    plan: ProductPlan,
    lakehouse: Lakehouse,
    writing: RunWrite,
    scopes: Scopes | None,
    engine: Engine,
    partition: PartitionSlice | None,
) -> _Read:
    """The product computed by `engine` from its inputs (within their scopes and, for an
    incremental run, its window)."""
    inputs = {port: _input(lakehouse, spec, port, ref) for port, ref in spec.input_refs().items()}
    rows_in, bytes_in = inputs_size(lakehouse, spec)
    scoped = writing.inputs(scope_inputs(spec, plan, inputs, scopes))
    # An engine that reads the lake itself (Spark) gets the tables' URIs, not Arrow copies of
    # them made in this process (but a scoped or windowed input's projection).
    given = (
        {
            port: lakehouse.uri(ref) if scoped[port] is inputs[port] else scoped[port]
            for port, ref in spec.input_refs().items()
        }
        if engine.reads_lake_uris
        else scoped
    )
    table, usage = _computed(engine, plan, given, partition, spec.qualified_name)
    return _Read(table, usage, rows_in, bytes_in)


def materialize_product(
    spec: ProductSpec,
    plan: ProductPlan,
    lakehouse: Lakehouse,
    partition: PartitionSlice | None = None,
    engine: Engine | None = None,
    keys: Keyring | None = None,
    gate: Callable[..., None] | None = None,
    access: Callable[[ProductSpec], Scopes | None] | None = None,
    *,
    run_id: str = "",
    full_refresh: bool = False,
) -> Materialized:
    """Compute the product and commit it to the lakehouse.

    `access` (the subscription check, `access/enforcement.py`) runs first, before anything is
    read, and refuses a read of another domain's product without an approved subscription
    (`SubscriptionRequired`, saying how to subscribe); it returns the column scopes of the
    subscriptions that have one, checked before any row is read and read within
    (`run/scope.py`). `gate` (the quality gate) sees the conformed result before the write
    and may refuse it (told `incremental=True` when the result changes the table rather than
    replacing it). An incremental product (`run/incremental.py`) reads only its window of the
    inputs, unless `full_refresh`; `run_id` is recorded with the commit.
    """
    scopes = access(spec) if access is not None else None
    writing = plan_write(spec, plan, lakehouse, run_id, full_refresh)
    started = time.perf_counter()
    meter = UsageMeter()
    with meter.measure():
        if spec.source is not None:
            read = _ingested(spec, plan, lakehouse, run_id, full_refresh)
        else:
            engine = engine or get_engine(spec.engine, keys=keys)
            read = _from_inputs(spec, plan, lakehouse, writing, scopes, engine, partition)
        table, folder = read.table, read.folder
        incremental = writing.incremental or (folder is not None and folder.incremental)
        if gate is not None:
            gate(table, incremental=incremental)
        if folder is not None:
            written = folder.write(lakehouse, table)
        elif partition is None:
            written = writing.write(lakehouse, table)
        else:
            written = lakehouse.write(spec.key, table, partition)
        if partition is None:
            table_rows, bytes_out = lakehouse.stored(spec.key)
        else:
            table_rows, bytes_out = stored_size(lakehouse.dataset(spec.key), partition)
    usage = replace(
        meter.usage,
        rows_in=read.rows_in,
        bytes_in=read.bytes_in,
        rows_out=written.rows,
        bytes_out=bytes_out,
    )
    seconds = time.perf_counter() - started
    return Materialized(table, written, seconds, usage, read.warnings, read.usage, table_rows)
