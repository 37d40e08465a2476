"""Freshness checks: a product's `freshness:` SLA as a Dagster check and its sensor."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from datetime import timedelta

import dagster as dg

from mesh_platform.spec.model import ProductSpec


def freshness_definitions(domain: str, specs: Iterable[ProductSpec]) -> dg.Definitions | None:
    """Last-update freshness checks for a domain's products with a `freshness:` SLA, and the
    sensor that evaluates them, so a stale product shows failed in the UI (and, through the
    quality sensor, notifies its owner)."""
    checks: list[dg.AssetChecksDefinition] = []
    # Dagster marks these superseded by FreshnessPolicy (which the factory also sets, for the
    # UI's freshness state); the checks stay because their results are check evaluations that
    # the quality sensor records and routes to the owner, which policies alone do not give.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return _freshness(domain, specs, checks)


def _freshness(
    domain: str, specs: Iterable[ProductSpec], checks: list[dg.AssetChecksDefinition]
) -> dg.Definitions | None:
    for spec in specs:
        if spec.freshness is None:
            continue
        checks.extend(
            dg.build_last_update_freshness_checks(
                assets=[dg.AssetKey(list(spec.key))],
                lower_bound_delta=timedelta(hours=spec.freshness.max_age_hours),
            )
        )
    if not checks:
        return None
    sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=checks,
        name=f"{domain}_freshness_checks",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    return dg.Definitions(asset_checks=checks, sensors=[sensor])
