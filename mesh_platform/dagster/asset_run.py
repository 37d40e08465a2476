"""The run of a product's asset: what the asset `dagster/factory.py` declares does when it runs.

One function per stage: the hold check (a product held after a rollback is not computed),
the engine from the run's resources, the quality gate with the pre-write hold check, the
subscription check from the `catalog` resource, the materialization (`run/materialize.py`)
inside the pipeline template, then the outputs (metadata, cost, the version record).

Imported by the asset when it runs, not when its code location loads: the run's machinery
(Arrow, SQLAlchemy, the gate, the engine) loads with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from mesh_platform.access.enforcement import require_access
from mesh_platform.access.scope import Scopes
from mesh_platform.access.seeding import apply_approvals_file
from mesh_platform.compile.plan import ProductPlan
from mesh_platform.dagster.costs import record_run_cost
from mesh_platform.dagster.holds import (
    Held,
    held_outputs,
    hold_notice,
    raise_if_held,
    record_written,
)
from mesh_platform.dagster.metadata import materialization_metadata
from mesh_platform.dagster.partitions import partition_slice
from mesh_platform.dagster.resources import KEYS_RESOURCE, CatalogResource
from mesh_platform.dagster.template import Hook, product_template
from mesh_platform.engine import Engine, get_engine
from mesh_platform.engine.registry import engine_resource_keys
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.quality.gate import QualityGate
from mesh_platform.quality.volume import VOLUME_ACCEPT, VOLUME_TAG
from mesh_platform.run.incremental import FULL_REFRESH_TAG
from mesh_platform.run.materialize import Materialized, materialize_product
from mesh_platform.spec.model import ProductSpec


def run_asset(
    context: dg.AssetExecutionContext,
    spec: ProductSpec,
    plan: ProductPlan,
    *,
    hooks: Sequence[Hook] = (),
    mesh_root: Path | None = None,
) -> Iterator[Any]:
    """Materialize the product in the pipeline template; yield the materialization and the
    checks' results (or, for a held product, empty outputs).

    `mesh_root`: the root of the mesh the location serves, whose approvals file is applied
    before a cross-domain read is refused (None: none is).
    """
    lakehouse: Lakehouse = context.resources.lakehouse
    catalog: CatalogResource = context.resources.catalog
    # A product held after a rollback is not computed at all (docs/versions.md).
    held = hold_notice(spec, lakehouse, catalog.url)
    if held is not None:
        yield from held_outputs(context, held)
        return
    engine = engine_from_resources(context, spec)
    gate = quality_gate(context, spec, plan, lakehouse, engine)
    started_at = datetime.now(UTC)
    with product_template(context, spec, hooks) as facts:
        try:
            done = materialize_product(
                spec,
                plan,
                lakehouse,
                partition_slice(spec, context),
                engine,
                gate=pre_write_check(spec, lakehouse, catalog.url, gate),
                access=access_check(catalog, mesh_root),
                run_id=context.run.run_id,
                full_refresh=context.run.tags.get(FULL_REFRESH_TAG) == "true",
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
        yield written_output(context, spec, plan, done, facts, started_at, catalog.url)
        yield from gate.results


def engine_from_resources(context: dg.AssetExecutionContext, spec: ProductSpec) -> Engine:
    """The product's engine, with what it takes from the run's resources: the keyring when the
    asset requires it (products calling keyed functions), its engine's own (Spark: `pyspark`).
    """
    required = context.assets_def.required_resource_keys
    return get_engine(
        spec.engine,
        keys=getattr(context.resources, KEYS_RESOURCE) if KEYS_RESOURCE in required else None,
        **{key: getattr(context.resources, key) for key in engine_resource_keys(spec.engine)},
    )


def quality_gate(
    context: dg.AssetExecutionContext,
    spec: ProductSpec,
    plan: ProductPlan,
    lakehouse: Lakehouse,
    engine: Engine,
) -> QualityGate:
    """The run's quality gate; the volume guard stands down when the run is tagged to accept
    the volume (`mesh materialize --accept-volume`)."""
    accept = context.run.tags.get(VOLUME_TAG) == VOLUME_ACCEPT
    return QualityGate(spec, plan, lakehouse, context.instance, engine, accept_volume=accept)


def pre_write_check(
    spec: ProductSpec, lakehouse: Lakehouse, catalog_url: str, gate: QualityGate
) -> Callable[..., None]:
    """What sees the result just before the write: the hold, checked again (a rollback made
    while this run computed must not be overwritten by it), then the quality gate."""

    def check(table: pa.Table, incremental: bool = False) -> None:
        raise_if_held(spec, lakehouse, catalog_url)
        gate.check(table, incremental=incremental)

    return check


def access_check(
    catalog: CatalogResource, mesh_root: Path | None
) -> Callable[[ProductSpec], Scopes]:
    """The run's subscription check: `require_access` against the `catalog` resource's catalog,
    applying the approvals file of `mesh_root` (`subscriptions.yaml`) once before refusing."""
    approvals = (
        None if mesh_root is None else functools.partial(apply_approvals_file, root=mesh_root)
    )
    return functools.partial(require_access, catalog=catalog.open, approvals=approvals)


def written_output(
    context: dg.AssetExecutionContext,
    spec: ProductSpec,
    plan: ProductPlan,
    done: Materialized,
    facts: dict[str, Any],
    started_at: datetime,
    catalog_url: str,
) -> dg.MaterializeResult:
    """The materialization of what the run wrote: its warnings logged, the template's success
    facts, the metadata with the run's cost (recorded), the version recorded."""
    for warning in done.warnings:
        context.log.warning(warning)
    # For the template's `success` hooks; the UI reads the same in the materialization's
    # metadata (no log line: each is one more event stored in the instance).
    facts.update(written_facts(spec, done))
    metadata = materialization_metadata(
        spec,
        plan,
        done.table,
        done.written.uri,
        done.written.version,
        done.seconds,
        done.engine_usage,
    )
    metadata.update(write_metadata(done))
    metadata.update(record_run_cost(context, spec, done.usage, started_at, catalog_url))
    record_written(context, spec, done.written, catalog_url)
    return dg.MaterializeResult(metadata=metadata)


def write_metadata(done: Materialized) -> dict[str, Any]:
    """What an incremental write did to the table: rows added, updated and deleted, and the
    table's rows after it (`dagster/row_count`); nothing for a table replaced whole."""
    written = done.written
    if not written.incremental:
        return {}
    return {
        "dagster/row_count": done.table_rows,
        "mesh/rows_added": written.added or 0,
        "mesh/rows_updated": written.updated,
        "mesh/rows_deleted": written.deleted,
    }


def written_facts(spec: ProductSpec, done: Materialized) -> Mapping[str, Any]:
    """The template's success facts of a write: rows, Delta version, and the message."""
    written = done.written
    did = (
        f"added {written.added}, updated {written.updated}, deleted {written.deleted} rows "
        f"of {written.uri} from {written.rows} computed"
        if written.incremental
        else f"wrote {written.rows} rows to {written.uri}"
    )
    return {
        "rows": written.rows,
        "delta_version": written.version,
        "message": (
            f"{spec.qualified_name}: {did} (Delta version {written.version}) in "
            f"{done.seconds:.2f}s"
        ),
    }
