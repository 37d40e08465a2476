"""Automation from specs: a product in another domain refreshes after its upstream."""

from __future__ import annotations

import datetime

import dagster as dg

from mesh_platform.dagster.factory import automation_condition
from mesh_platform.dagster.orchestration import imported_definitions
from mesh_platform.loader.mesh import Mesh

UPSTREAM = dg.AssetKey(["sales", "customer_revenue"])
DOWNSTREAM = dg.AssetKey(["marketing", "customer_segments"])


def _assets(*domains: str) -> list[dg.AssetsDefinition]:
    return [
        a
        for d in domains
        for a in imported_definitions(d).assets or []
        if isinstance(a, dg.AssetsDefinition)
    ]


def test_the_chain_is_declared_in_the_specs() -> None:
    mesh = Mesh.load()
    upstream = mesh.product("sales.customer_revenue").spec
    downstream = mesh.product("marketing.customer_segments").spec
    assert upstream.automation == "on_cron" and upstream.schedule
    assert downstream.automation == "eager"
    assert ("sales", "customer_revenue") in mesh.upstream(("marketing", "customer_segments"))
    assert automation_condition(downstream) == dg.AutomationCondition.eager()


def test_downstream_domain_refreshes_after_upstream() -> None:
    defs = dg.Definitions(
        assets=_assets("sales", "marketing"),
        resources=imported_definitions("sales").resources,
    )
    instance = dg.DagsterInstance.ephemeral()
    for key in (UPSTREAM, DOWNSTREAM):
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    start = datetime.datetime(2026, 11, 25, 12, 0)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=start)
    assert result.get_num_requested(DOWNSTREAM) == 0

    result = dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        cursor=result.cursor,
        evaluation_time=start + datetime.timedelta(minutes=1),
    )
    assert result.get_num_requested(DOWNSTREAM) == 0, "nothing changed upstream yet"

    instance.report_runless_asset_event(dg.AssetMaterialization(UPSTREAM))
    result = dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        cursor=result.cursor,
        evaluation_time=start + datetime.timedelta(minutes=2),
    )
    assert result.get_num_requested(DOWNSTREAM) == 1


def test_every_location_runs_its_automation_sensor_by_default() -> None:
    """Dagster's default automation sensor starts STOPPED: each location has its own, RUNNING
    from the start and covering every product with an automation condition (the daemon-driven
    proof is tests/test_up.py)."""
    from mesh_platform.dagster.location import AUTOMATION_SENSOR

    covered: set[dg.AssetKey] = set()
    for domain in Mesh.load().domains:
        repository = imported_definitions(domain).get_repository_def()
        sensors = {s.name: s for s in repository.sensor_defs}
        assert "default_automation_condition_sensor" not in sensors, domain
        sensor = sensors[AUTOMATION_SENSOR]
        assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        graph = repository.asset_graph
        automated = {
            key
            for key in graph.materializable_asset_keys
            if graph.get(key).automation_condition is not None
        }
        assert automated <= sensor.asset_selection.resolve(graph), domain
        covered |= automated
    assert DOWNSTREAM in covered and UPSTREAM in covered
