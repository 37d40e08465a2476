"""What a materialization cost, priced and recorded from inside the asset (see docs/cost.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dagster as dg

from mesh_platform.engine import Usage
from mesh_platform.spec.model import ProductSpec


def record_run_cost(
    context: dg.AssetExecutionContext,
    spec: ProductSpec,
    usage: Usage,
    started_at: datetime,
    catalog_url: str,
) -> dict[str, Any]:
    """Price the materialization's usage, record it in the catalog at `catalog_url` (the run's
    `catalog` resource's), return its metadata.

    The rates are read here, in the run's process. Runs on an ephemeral instance (in-process
    runs that Dagster itself does not keep) get the metadata only. A catalog failure is a
    warning: the run still succeeds.
    """
    from mesh_platform.cost import CostEntry, CostRates, cost_metadata, product_team, record_cost

    entry = CostEntry(
        product=spec.qualified_name,
        domain=spec.domain,
        run_id=context.run.run_id,
        kind="run",
        usage=usage,
        rates=CostRates.from_environment(),
        team=product_team(spec.owners),
        partition=_partitions(context),
        started_at=started_at,
    )
    if not context.instance.is_ephemeral:
        warning = record_cost(catalog_url, entry)
        if warning is not None:
            context.log.warning(warning)
    return cost_metadata(entry)


def _partitions(context: dg.AssetExecutionContext) -> str | None:
    if not context.has_partition_key_range:
        return None
    keys = context.partition_key_range
    return keys.start if keys.start == keys.end else f"{keys.start}..{keys.end}"
