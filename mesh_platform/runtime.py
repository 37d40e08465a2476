"""One materialization of a product: inputs, steps, contract, atomic write, metadata."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

import dagster as dg
import pyarrow as pa

from mesh_platform.contract import conform
from mesh_platform.engine import LocalEngine
from mesh_platform.keys import Keyring
from mesh_platform.lakehouse import Lakehouse, PartitionSlice
from mesh_platform.metadata import materialization_metadata
from mesh_platform.plan import ProductPlan
from mesh_platform.spec.model import ProductSpec


def partition_slice(spec: ProductSpec, context: dg.AssetExecutionContext) -> PartitionSlice | None:
    """The partition window this run covers (one partition, or a single-run backfill range)."""
    if spec.partitioning is None or not (
        context.has_partition_key or context.has_partition_key_range
    ):
        return None
    window = context.partition_time_window
    return PartitionSlice(spec.partitioning.column, _as_date(window.start), _as_date(window.end))


def _as_date(value: object) -> date:
    return value.date() if hasattr(value, "date") else value  # type: ignore[return-value]


def materialize(
    spec: ProductSpec,
    plan: ProductPlan,
    lakehouse: Lakehouse,
    partition: PartitionSlice | None = None,
    engine: LocalEngine | None = None,
    log: dg.DagsterLogManager | None = None,
    keys: Keyring | None = None,
    audit: Callable[[pa.Table], None] | None = None,
) -> dg.MaterializeResult:
    """Compute the product and commit it to the lakehouse; return its metadata.

    `audit` (the quality gate) sees the conformed result before the write and may refuse it.
    """
    started = time.perf_counter()
    if spec.source is not None:
        data = lakehouse.landing(spec.source.landing).to_table()
    else:
        inputs = {port: lakehouse.dataset(ref) for port, ref in spec.input_refs().items()}
        data = (engine or LocalEngine(keys=keys)).run(plan, inputs, partition)
    table = conform(data, plan, spec.qualified_name)
    if audit is not None:
        audit(table)
    written = lakehouse.write(spec.key, table, partition)
    seconds = time.perf_counter() - started
    if log is not None:
        log.info(
            f"{spec.qualified_name}: wrote {written.rows} rows to {written.uri} "
            f"(Delta version {written.version}) in {seconds:.2f}s"
        )
    return dg.MaterializeResult(
        metadata=materialization_metadata(spec, plan, table, written.uri, written.version, seconds)
    )
