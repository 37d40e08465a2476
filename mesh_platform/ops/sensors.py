"""The sensors the platform's code location runs for the whole mesh."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg

from mesh_platform.cost.budget_watch import evaluate_budgets
from mesh_platform.cost.budgets import BudgetStandard, budget_standard
from mesh_platform.loader.mesh import MeshSpecs
from mesh_platform.marketplace.sensor import build_catalog_sensor
from mesh_platform.notify import AlertDraft, Notifier
from mesh_platform.ops.approvals import build_approval_sensor
from mesh_platform.ops.quality_history import build_quality_sensor
from mesh_platform.ops.routing import TICK_BUDGET_SECONDS, build_failure_sensor, recipients


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


def watch_budgets(
    notifier: Notifier,
    mesh: MeshSpecs,
    standard: BudgetStandard | None = None,
    now: datetime | None = None,
) -> list[AlertDraft]:
    """Notify (once per month) each breach of the budget standard (default: the registry's)
    that no active exception covers, to whoever answers for the domain's budget."""
    standard = standard or budget_standard()
    if standard is None:
        return []
    domains = {name: source.spec for name, source in mesh.domains.items()}
    return evaluate_budgets(notifier, standard, domains, recipients, now=now)


def build_budget_sensor(mesh_root: Path | None = None) -> dg.SensorDefinition:
    """The budget watch: this month's production spend against the budget standard."""

    @dg.sensor(
        name="mesh_budget_watch",
        # Costs accrue run by run; a breach a few minutes late is fine, a scan every 30 s is not.
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Notifies each domain (or the platform team, its proxy) once per month of "
        "each budget limit its production runs exceed, unless an exception covers it.",
    )
    def mesh_budget_watch(context: dg.SensorEvaluationContext, notifier: Notifier) -> dg.SkipReason:
        """Evaluate the budgets (a catalog outage or a bad standard fails the tick)."""
        drafts = watch_budgets(notifier, MeshSpecs.load(mesh_root))
        return dg.SkipReason(f"{len(drafts)} budget breach(es) this month, each notified once")

    return mesh_budget_watch


def platform_sensors(mesh_root: Path | None = None) -> dg.Definitions:
    """Failure routing, quality history, notification retries, the budget watch, the
    subscription approvals and the marketplace catalog's sync."""
    return dg.Definitions(
        sensors=[
            build_failure_sensor(mesh_root),
            build_quality_sensor(mesh_root),
            build_retry_sensor(),
            build_budget_sensor(mesh_root),
            build_approval_sensor(mesh_root),
            build_catalog_sensor(mesh_root),
        ]
    )
