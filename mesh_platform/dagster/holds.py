"""The asset's side of versions: record what produced each version, respect holds.

A held product's materialization (whoever launched it: the automation sensor, a schedule,
the UI, `mesh materialize`) writes nothing and succeeds: it is not a failure and pages nobody.
The run says why in a warning, its tag `mesh/held` lists the held products it skipped
(`a.b,c.d`), and it yields no materialization, so Dagster records none (the asset's checks show
as not evaluated, and the products reading it in the same run are skipped). The hold is checked
before the product is computed and again just before the write, so a rollback made while a run
computes is not overwritten by it.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from mesh_platform.errors import MeshError
from mesh_platform.lake.lakehouse import Lakehouse, WriteResult
from mesh_platform.run.version_records import HoldNotice
from mesh_platform.spec.model import ProductSpec

HELD_TAG = "mesh/held"


class Held(MeshError):
    """Raised from the pre-write check: the product was held while the run computed."""

    def __init__(self, notice: HoldNotice) -> None:
        self.notice = notice
        super().__init__(notice.message)


def hold_notice(spec: ProductSpec, lakehouse: Lakehouse, catalog_url: str) -> HoldNotice | None:
    """Why the product must not be written now, None when it may be (`catalog_url`: the run's
    `catalog` resource's)."""
    from mesh_platform.run.version_records import hold_on

    return hold_on(lakehouse, spec.key, catalog_url)


def raise_if_held(spec: ProductSpec, lakehouse: Lakehouse, catalog_url: str) -> None:
    """The pre-write check (run inside the quality gate's audit, just before the write)."""
    notice = hold_notice(spec, lakehouse, catalog_url)
    if notice is not None:
        raise Held(notice)


def held_outputs(context: dg.AssetExecutionContext, notice: HoldNotice) -> Iterator[dg.Output]:
    """End a held product's step as a success that wrote nothing, saying why.

    The asset's output is optional; its checks' outputs are not (Dagster requires one per
    check), so each is given as an empty output: no check is evaluated, none fails.
    """
    context.log.warning(notice.message)
    # One tag for the run, listing every held product it skipped (`a.b,c.d`).
    run = context.instance.get_run_by_id(context.run.run_id)
    earlier = run.tags.get(HELD_TAG, "") if run is not None else ""
    held = sorted({*filter(None, earlier.split(",")), notice.product})
    context.instance.add_run_tags(context.run.run_id, {HELD_TAG: ",".join(held)})
    for name in context.assets_def.check_specs_by_output_name:
        yield dg.Output(None, output_name=name)


def code_version(context: dg.AssetExecutionContext) -> str:
    """The code version Dagster stamps on the materialization: the asset's, else the run id."""
    stamped = context.assets_def.code_versions_by_key.get(context.asset_key)
    return stamped or context.run.run_id


def record_written(
    context: dg.AssetExecutionContext, spec: ProductSpec, written: WriteResult, catalog_url: str
) -> None:
    """Record the version a run committed: code version, run, rows, partitions.

    Like the run's cost, recorded for runs the instance keeps (not ephemeral in-process runs),
    and a catalog failure is a warning: the data is written, only its record is missing, and
    `mesh history` still lists the version from the Delta log.
    """
    from mesh_platform.catalog import Catalog, CatalogUnavailable
    from mesh_platform.run.version_records import record_version

    if context.instance.is_ephemeral:
        return
    partition = None
    if context.has_partition_key_range:
        keys = context.partition_key_range
        partition = keys.start if keys.start == keys.end else f"{keys.start}..{keys.end}"
    try:
        with Catalog.open(catalog_url).session() as session:
            record_version(
                session,
                spec.qualified_name,
                written.version,
                code_version=code_version(context),
                run_id=context.run.run_id,
                rows=written.rows,
                partition=partition,
            )
    except CatalogUnavailable as exc:
        context.log.warning(
            f"version {written.version} of {spec.qualified_name} is written but not recorded "
            f"in the catalog ({exc.reason}); `mesh history` shows it without its run"
        )
