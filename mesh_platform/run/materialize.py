"""One materialization of a product: inputs, engine, contract, audit, atomic write.

Engine-neutral and Dagster-free: the asset (`dagster/factory.py`) calls it and turns what it
returns into the materialization's metadata.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from mesh_platform.compile.plan import ProductPlan
from mesh_platform.engine import Engine, Usage, get_engine
from mesh_platform.lake.lakehouse import Lakehouse, WriteResult
from mesh_platform.lake.partitions import PartitionSlice
from mesh_platform.run.conform import conform
from mesh_platform.run.landing import read_landing
from mesh_platform.security.keys import Keyring
from mesh_platform.spec.model import ProductSpec


@dataclass(frozen=True)
class Materialized:
    """What a materialization wrote, and what it cost."""

    table: pa.Table
    written: WriteResult
    seconds: float
    usage: Usage
    warnings: tuple[str, ...] = ()


def materialize(
    spec: ProductSpec,
    plan: ProductPlan,
    lakehouse: Lakehouse,
    partition: PartitionSlice | None = None,
    engine: Engine | None = None,
    keys: Keyring | None = None,
    audit: Callable[[pa.Table], None] | None = None,
) -> Materialized:
    """Compute the product and commit it to the lakehouse.

    `audit` (the quality gate) sees the conformed result before the write and may refuse it.
    """
    started = time.perf_counter()
    warnings: list[str] = []
    if spec.source is not None:
        data, warnings = read_landing(lakehouse, spec)
        usage = Usage(0.0, 0.0, data.num_rows, data.nbytes)
    else:
        inputs = {port: lakehouse.dataset(ref) for port, ref in spec.input_refs().items()}
        result = (engine or get_engine(spec.engine, keys=keys)).run(plan, inputs, partition)
        data, usage = result.table, result.usage
    table = conform(data, plan, spec.qualified_name)
    if audit is not None:
        audit(table)
    written = lakehouse.write(spec.key, table, partition)
    return Materialized(table, written, time.perf_counter() - started, usage, tuple(warnings))
