"""The factory: a product spec and its plan become a Dagster asset (and its schedule).

No `from __future__ import annotations` here: Dagster reads the asset function's annotations.
"""

import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from mesh_platform.compile.plan import ProductPlan
from mesh_platform.dagster.costs import record_run_cost
from mesh_platform.dagster.metadata import definition_metadata, materialization_metadata
from mesh_platform.dagster.partitions import partition_slice, partitions_def
from mesh_platform.dagster.template import Hook, product_template
from mesh_platform.engine import engine_kinds, get_engine
from mesh_platform.engine.registry import engine_resource_keys
from mesh_platform.lake.lakehouse import Lakehouse
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
    spec: ProductSpec, plan: ProductPlan, hooks: Sequence[Hook] = ()
) -> dg.AssetsDefinition:
    """The software-defined asset of a product."""
    deps = [asset_key(ref) for ref in spec.input_refs().values()]
    keyed = needs_keys(s.query for s in plan.steps)  # only keyed products need the keyring
    # The Dagster resources the product's engine takes from the run (Spark: `pyspark`).
    engine_keys = engine_resource_keys(spec.engine)
    partitions = partitions_def(spec)
    freshness = (
        dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=spec.freshness.max_age_hours))
        if spec.freshness
        else None
    )

    def _product(context: dg.AssetExecutionContext) -> Iterator[Any]:
        # The run's machinery (Arrow, the gate, the engine) loads when the asset runs, not when
        # its code location loads.
        from mesh_platform.dagster.holds import (
            Held,
            held_outputs,
            hold_notice,
            raise_if_held,
            record_written,
        )
        from mesh_platform.quality.gate import QualityGate
        from mesh_platform.quality.volume import VOLUME_ACCEPT, VOLUME_TAG
        from mesh_platform.run.materialize import materialize_product

        lakehouse: Lakehouse = context.resources.lakehouse
        # A product held after a rollback is not computed at all (docs/versions.md).
        held = hold_notice(spec, lakehouse)
        if held is not None:
            yield from held_outputs(context, held)
            return
        engine = get_engine(
            spec.engine,
            keys=context.resources.keys if keyed else None,
            **{key: getattr(context.resources, key) for key in engine_keys},
        )
        accept = context.run.tags.get(VOLUME_TAG) == VOLUME_ACCEPT
        gate = QualityGate(spec, plan, lakehouse, context.instance, engine, accept_volume=accept)
        started_at = datetime.now(UTC)

        def check(table: Any) -> None:
            # Checked again just before the write: a rollback made while this run computed
            # must not be overwritten by it.
            raise_if_held(spec, lakehouse)
            gate.check(table)

        with product_template(context, spec, hooks) as facts:
            try:
                done = materialize_product(
                    spec,
                    plan,
                    lakehouse,
                    partition_slice(spec, context),
                    engine,
                    gate=check,
                )
            except Held as error:
                facts.update(held=error.notice.message)
                yield from held_outputs(context, error.notice)
                return
            except Exception as error:
                # The checks evaluated so far are recorded even when the run fails.
                gate.failed_before_check(error)
                yield from gate.results
                raise
            for warning in done.warnings:
                context.log.warning(warning)
            # Said once, in the template's `product.success` event (each log line is one more
            # event stored in the instance).
            facts.update(
                rows=done.written.rows,
                delta_version=done.written.version,
                message=(
                    f"{spec.qualified_name}: wrote {done.written.rows} rows to "
                    f"{done.written.uri} (Delta version {done.written.version}) in "
                    f"{done.seconds:.2f}s"
                ),
            )
            metadata = materialization_metadata(
                spec,
                plan,
                done.table,
                done.written.uri,
                done.written.version,
                done.seconds,
                done.engine_usage,
            )
            metadata.update(record_run_cost(context, spec, done.usage, started_at))
            record_written(context, spec, done.written)
            yield dg.MaterializeResult(metadata=metadata)
            yield from gate.results

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
            # Only products calling keyed functions need the `keys` resource (the keyring).
            required_resource_keys=({"lakehouse", "keys"} if keyed else {"lakehouse"})
            | set(engine_keys),
            description=description(spec),
            deps=deps,
            partitions_def=partitions,
            backfill_policy=dg.BackfillPolicy.single_run() if partitions else None,
            automation_condition=automation_condition(spec),
            # Optional: a held product's run ends without a materialization (dagster/versions).
            output_required=False,
            code_version=spec.version,
            metadata=definition_metadata(spec, plan),
            freshness_policy=freshness,
            check_specs=check_specs(spec),
        )(_product)


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
