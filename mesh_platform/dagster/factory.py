"""The factory: a product spec and its plan become a Dagster asset (and its schedule).

No `from __future__ import annotations` here: Dagster reads the asset function's annotations.
"""

import warnings
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from mesh_platform.compile.plan import ProductPlan
from mesh_platform.dagster.metadata import definition_metadata
from mesh_platform.dagster.partitions import partitions_def
from mesh_platform.dagster.resources import CATALOG_RESOURCE, KEYS_RESOURCE
from mesh_platform.dagster.template import Hook
from mesh_platform.engine import engine_kinds
from mesh_platform.engine.registry import engine_resource_keys
from mesh_platform.quality.checks import check_specs
from mesh_platform.security.pii import CONTAINS_PII, contains_pii
from mesh_platform.security.policy import needs_keys
from mesh_platform.spec.model import ProductSpec

MAX_KINDS = 10


def asset_key(key: tuple[str, str]) -> dg.AssetKey:
    """The asset key of a product: `[domain, product]`."""
    return dg.AssetKey(list(key))


def automation_condition(spec: ProductSpec) -> dg.AutomationCondition | None:
    """The spec's automation as a Dagster automation condition."""
    if spec.automation == "eager":
        return dg.AutomationCondition.eager()
    if spec.automation == "on_cron":
        assert spec.schedule is not None
        return dg.AutomationCondition.on_cron(spec.schedule)
    if spec.automation == "on_missing":
        return dg.AutomationCondition.on_missing()
    return None


def kinds(spec: ProductSpec, plan: ProductPlan) -> set[str]:
    """Storage, engine and step kinds shown on the asset, plus the spec's own."""
    found = {"delta", *engine_kinds(spec.engine)}
    step_kinds = {s.kind for s in plan.steps}
    if "sql" in step_kinds:
        found.add("sql")
    if "python" in step_kinds or "standard" in step_kinds:
        found.add("polars")
    if spec.source is not None:
        found.add("parquet")
    found.update(spec.kinds)
    assert len(found) <= MAX_KINDS, found  # the spec's own kinds are limited at load
    return found


def tags(spec: ProductSpec, plan: ProductPlan | None = None) -> dict[str, str]:
    """Tags filterable in the UI: domain, visibility, `contains_pii` (derived), the spec's own."""
    found = {"domain": spec.domain, "visibility": spec.visibility}
    if plan is not None and contains_pii(c.tags for c in plan.columns):
        found[CONTAINS_PII] = "true"
    return {**found, **spec.tags}


def description(spec: ProductSpec) -> str:
    """The UI text of the asset."""
    return spec.description.strip()


def build_asset(
    spec: ProductSpec,
    plan: ProductPlan,
    hooks: Sequence[Hook] = (),
    *,
    mesh_root: Path | None = None,
) -> dg.AssetsDefinition:
    """The software-defined asset of a product; its run is `dagster/asset_run.py`'s `run_asset`.

    `mesh_root`: the root of the mesh the code location serves, whose approvals file the run
    applies before refusing a cross-domain read (None: none).
    """
    partitions = partitions_def(spec)

    def _product(context: dg.AssetExecutionContext) -> Iterator[Any]:
        # The run's machinery (Arrow, the gate, the engine, the catalog) loads when the asset
        # runs, not when its code location loads.
        from mesh_platform.dagster.asset_run import run_asset

        yield from run_asset(context, spec, plan, hooks=hooks, mesh_root=mesh_root)

    # The single-run backfill policy is the platform's deliberate choice: Dagster's notice that
    # the parameter is in beta is not something a domain team can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.asset(
            key=asset_key(spec.key),
            name=None,
            group_name=spec.domain,
            owners=list(spec.owners),
            kinds=kinds(spec, plan),
            tags=tags(spec, plan),
            required_resource_keys=required_resources(spec, plan),
            description=description(spec),
            deps=[asset_key(ref) for ref in spec.input_refs().values()],
            partitions_def=partitions,
            backfill_policy=dg.BackfillPolicy.single_run() if partitions else None,
            automation_condition=automation_condition(spec),
            # Optional: a held product's run ends without a materialization (dagster/holds.py).
            output_required=False,
            code_version=spec.version,
            metadata=definition_metadata(spec, plan),
            freshness_policy=freshness_policy(spec),
            check_specs=check_specs(spec),
        )(_product)


def required_resources(spec: ProductSpec, plan: ProductPlan) -> set[str]:
    """The resources a product's run takes: the lakehouse and the catalog always, the keyring
    (`keys`) only for products calling keyed functions, and those its engine takes from the
    run (Spark: `pyspark`)."""
    found = {"lakehouse", CATALOG_RESOURCE, *engine_resource_keys(spec.engine)}
    if needs_keys(s.query for s in plan.steps):
        found.add(KEYS_RESOURCE)
    return found


def freshness_policy(spec: ProductSpec) -> dg.FreshnessPolicy | None:
    """The spec's `freshness:` as the asset's freshness policy (a fail window)."""
    if spec.freshness is None:
        return None
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=spec.freshness.max_age_hours))


def build_schedules(spec: ProductSpec) -> list[Any]:
    """A schedule for a product with `schedule:` and no automation condition."""
    if spec.schedule is None or spec.automation is not None:
        return []
    job = dg.define_asset_job(
        name=f"{spec.domain}__{spec.name}__job",
        selection=[asset_key(spec.key)],
        partitions_def=partitions_def(spec),
    )
    if spec.partitioning is not None:
        return [dg.build_schedule_from_partitioned_job(job, name=f"{spec.domain}__{spec.name}")]
    return [
        dg.ScheduleDefinition(
            name=f"{spec.domain}__{spec.name}",
            job=job,
            cron_schedule=spec.schedule,
            default_status=dg.DefaultScheduleStatus.RUNNING,
        )
    ]
