"""The sensors the platform's code location runs for the whole mesh."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from mesh_platform.notify import Notifier
from mesh_platform.ops.quality_history import build_quality_sensor
from mesh_platform.ops.routing import TICK_BUDGET_SECONDS, build_failure_sensor


def build_retry_sensor() -> dg.SensorDefinition:
    """The notification retry pass: sends the outbox messages whose retry is due."""

    @dg.sensor(
        name="mesh_notification_retries",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Retries failed notifications with exponential backoff, up to the "
        "notifier's max_attempts; then the message is kept as given up (see `mesh status`).",
    )
    def mesh_notification_retries(
        context: dg.SensorEvaluationContext, notifier: Notifier
    ) -> dg.SkipReason:
        """Attempt every due message once (a catalog outage fails the tick, with its reason)."""
        outcome = notifier.retry_due(budget_seconds=TICK_BUDGET_SECONDS)
        if outcome.failed or outcome.gave_up:
            context.log.warning(outcome.summary())
        return dg.SkipReason(outcome.summary())

    return mesh_notification_retries


def platform_sensors(mesh_root: Path | None = None) -> dg.Definitions:
    """Failure routing, quality history and notification retries, for every code location."""
    return dg.Definitions(
        sensors=[
            build_failure_sensor(mesh_root),
            build_quality_sensor(mesh_root),
            build_retry_sensor(),
        ]
    )
