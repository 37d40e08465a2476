"""Time partitions: the spec's partitioning as Dagster's, and a run's partition window."""

from __future__ import annotations

from datetime import date

import dagster as dg

from mesh_platform.lake.partitions import PartitionSlice
from mesh_platform.spec.model import ProductSpec


def partitions_def(spec: ProductSpec) -> dg.PartitionsDefinition | None:
    """Monthly or daily time partitions from the spec."""
    p = spec.partitioning
    if p is None:
        return None
    start = p.start.isoformat()
    end = p.end.isoformat() if p.end else None
    if p.granularity == "monthly":
        return dg.MonthlyPartitionsDefinition(start_date=start, end_date=end)
    return dg.DailyPartitionsDefinition(start_date=start, end_date=end)


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
