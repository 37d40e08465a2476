"""The sensors the platform's code location runs for the whole mesh."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from mesh_platform.ops.quality_history import build_quality_sensor
from mesh_platform.ops.routing import build_failure_sensor


def platform_sensors(mesh_root: Path | None = None) -> dg.Definitions:
    """Failure routing and quality history, watching every code location."""
    return dg.Definitions(
        sensors=[build_failure_sensor(mesh_root), build_quality_sensor(mesh_root)]
    )
