"""Materializing many products: whole mesh, one domain or one product, in dependency order.

Each domain is its own code location, so a run never spans domains: runs go domain by domain
in the order the mesh's cross-domain inputs require. Within a domain, one run covers each
stretch of products that share a partitioning; partitioned products run as a single-run
backfill over all their partitions.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dagster as dg

from mesh_platform.dagster.partitions import partitions_def
from mesh_platform.loader.mesh import Mesh
from mesh_platform.spec.workspace import Key


@dataclass(frozen=True)
class RunSummary:
    """One Dagster run the orchestration launched."""

    domain: str
    products: tuple[str, ...]
    run_id: str
    success: bool
    seconds: float
    partitions: str | None = None
    error: str | None = None


def domain_definitions(domain: str) -> dg.Definitions:
    """The Definitions of a domain's code location (`domains.<domain>.definitions`)."""
    module = importlib.import_module(f"domains.{domain}.definitions")
    return module.defs


def _batches(mesh: Mesh, keys: Iterable[Key]) -> list[list[Key]]:
    """Runs to launch: per domain (in cross-domain order), as few as partitionings allow.

    A run holds products of one partitioning whose in-domain inputs are already done or in
    the same run; Dagster orders the products inside a run.
    """
    selected = set(keys)
    batches: list[list[Key]] = []
    for domain in mesh.domain_order():
        remaining = [s.spec.key for s in mesh.of_domain(domain) if s.spec.key in selected]
        while remaining:
            partitioning = mesh.products[remaining[0]].spec.partitioning
            batch: list[Key] = []
            for key in remaining:
                local_inputs = {u for u in mesh.upstream(key) if u[0] == domain}
                waiting = local_inputs & (set(remaining) - set(batch))
                if mesh.products[key].spec.partitioning == partitioning and not waiting:
                    batch.append(key)
            batches.append(batch)
            remaining = [k for k in remaining if k not in batch]
    return batches


def select(mesh: Mesh, target: str | None) -> list[Key]:
    """Products named by `target`: None = all, `domain`, or `domain.product`."""
    if target is None:
        return list(mesh.order)
    if "." in target:
        return [mesh.product(target).spec.key]
    if target not in mesh.domains:
        raise KeyError(f"no domain {target!r}; domains: {', '.join(sorted(mesh.domains))}")
    return [s.spec.key for s in mesh.of_domain(target)]


def materialize(
    mesh: Mesh,
    keys: Iterable[Key],
    instance: dg.DagsterInstance,
    on_run: Callable[[RunSummary], None] | None = None,
    raise_on_failure: bool = True,
    log_level: str = "INFO",
) -> list[RunSummary]:
    """Materialize `keys` once each, upstream first, recording runs in `instance`.

    `log_level` is the level of Dagster's console logs; every event is recorded in the
    instance whatever it is.
    """
    summaries = []
    for batch in _batches(mesh, keys):
        domain = batch[0][0]
        defs = domain_definitions(domain)
        spec = mesh.products[batch[0]].spec
        tags: dict[str, str] = {"mesh/launched_by": "mesh-cli"}
        partitions = None
        pdef = partitions_def(spec)
        if pdef is not None:
            all_keys = pdef.get_partition_keys()
            tags["dagster/asset_partition_range_start"] = all_keys[0]
            tags["dagster/asset_partition_range_end"] = all_keys[-1]
            partitions = f"{all_keys[0]}..{all_keys[-1]}"
        started = time.perf_counter()
        result = dg.materialize(
            [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)],
            selection=[dg.AssetKey(list(k)) for k in batch],
            instance=instance,
            resources=defs.resources,
            tags=tags,
            raise_on_error=raise_on_failure,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
        summary = RunSummary(
            domain,
            tuple(k[1] for k in batch),
            result.run_id,
            result.success,
            time.perf_counter() - started,
            partitions,
            _first_failure(result),
        )
        summaries.append(summary)
        if on_run is not None:
            on_run(summary)
    return summaries


def _first_failure(result: dg.ExecuteInProcessResult) -> str | None:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            data = event.step_failure_data
            if data.user_failure_data is not None and data.user_failure_data.description:
                return data.user_failure_data.description
            return data.error.message.strip() if data.error else None
    return None
