"""Every code location of workspace.yaml as one set of definitions, for Dagster's `dg` CLI.

`dg list defs` and `dg check defs` work on one module (`code_location_target_module` under
`[tool.dg.project]` in pyproject.toml): this one. `mesh up` does not use it: it serves one code
location per domain from workspace.yaml. Each location's assets, checks, schedules, sensors
and jobs are merged; the resources, built by every location from the same settings, once;
an automation sensor that every location defines under the same name (it targets all of its
location's assets), once: over the merged definitions it targets every asset.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import dagster as dg

from mesh_platform.dagster.resources import build_executor, build_resources
from mesh_platform.spec.code_locations import definitions_module, read_locations
from mesh_platform.spec.workspace import repo_root


def whole_mesh_definitions(root: Path | None = None) -> dg.Definitions:
    """The definitions of every domain listed in `<root>/workspace.yaml`, merged."""
    parts: list[dg.Definitions] = []
    resources: dict[str, object] = {}
    automation: set[str] = set()
    for location in read_locations(root or repo_root()):
        if location.domain is None:
            continue
        defs: dg.Definitions = importlib.import_module(definitions_module(location.domain)).defs
        for key, resource in (defs.resources or {}).items():
            resources.setdefault(key, resource)
        sensors = []
        for sensor in defs.sensors or []:
            if isinstance(sensor, dg.AutomationConditionSensorDefinition):
                if sensor.name in automation:
                    continue
                automation.add(sensor.name)
            sensors.append(sensor)
        parts.append(
            dg.Definitions(
                assets=defs.assets,
                asset_checks=defs.asset_checks,
                schedules=defs.schedules,
                sensors=sensors,
                jobs=defs.jobs,
            )
        )
    # A lakehouse that writes every domain's tables (each location's writes only its own).
    resources.update(build_resources())
    # The profile's executor (Celery in prod), as every location has it.
    return dg.Definitions.merge(
        *parts, dg.Definitions(resources=resources, executor=build_executor())
    )


defs = whole_mesh_definitions()
