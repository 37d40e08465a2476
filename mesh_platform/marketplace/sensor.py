"""The platform's catalog sensor: the marketplace kept in step while `mesh up` serves.

Every minute it syncs the catalog with the specs (the code location's view of them), the
lake's Delta logs and the instance's materializations and check evaluations, so the web
catalog shows a run's new version and a failed rule's sample within a minute. It marks the
catalog with what it synced (`freshness.py`), so `mesh search` and `mesh show` that follow
answer without syncing again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg

from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import Mesh
from mesh_platform.marketplace.freshness import mark_synced, sync_digest
from mesh_platform.marketplace.sync import sync_catalog

SENSOR_NAME = "mesh_catalog_sync"


def build_catalog_sensor(mesh: Callable[[], Mesh]) -> dg.SensorDefinition:
    """`mesh_catalog_sync`: `sync_catalog` every minute (a catalog outage fails the tick);
    `mesh` gives the mesh of this tick (the platform location's shared `SensorMesh`)."""

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Keeps the marketplace catalog (search, product pages) in step with the "
        "specs, the tables' versions and the quality history.",
    )
    def mesh_catalog_sync(
        context: dg.SensorEvaluationContext, catalog: CatalogResource, lakehouse: Lakehouse
    ) -> dg.SkipReason:
        """Sync the catalog; the tick's message says what changed."""
        opened = catalog.open()
        loaded = mesh()
        # Taken before the sync reads anything: what changes during it is synced next time.
        digest = sync_digest(
            opened, loaded.root, lakehouse.root, Path(context.instance.root_directory)
        )
        report = sync_catalog(opened, loaded, instance=context.instance, lakehouse=lakehouse)
        mark_synced(opened, digest)
        return dg.SkipReason(report.summary())

    return mesh_catalog_sync
