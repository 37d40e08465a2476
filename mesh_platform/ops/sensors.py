"""The sensors the platform's code location runs for the whole mesh, and the one mesh they
share (`SensorMesh`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import dagster as dg

from mesh_platform.catalog import Catalog
from mesh_platform.cost.budget_watch import evaluate_budgets
from mesh_platform.cost.budgets import BudgetStandard, budget_standard
from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.loader.mesh import Mesh, MeshSpecs, load_healthy
from mesh_platform.marketplace.sensor import build_catalog_sensor
from mesh_platform.notify import AlertDraft, Notifier
from mesh_platform.ops.approvals import build_approval_sensor
from mesh_platform.ops.quality_history import build_quality_sensor
from mesh_platform.ops.routing import TICK_BUDGET_SECONDS, build_failure_sensor, recipients
from mesh_platform.spec.workspace import DOMAINS_DIR, repo_root

# What a mesh's files looked like: (path, modification time, size) of every file.
Fingerprint = tuple[tuple[str, int, int], ...]


def spec_fingerprint(root: Path) -> Fingerprint:
    """Every file under `root/domains/` (specs, SQL, Python steps, domain files) with its
    modification time and size: it changes when a file is added, removed or edited."""
    found = []
    for path in (root / DOMAINS_DIR).rglob("*"):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        stat = path.stat()
        found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(found))


class SensorMesh:
    """The mesh the platform location's sensors read: one load shared by all of them.

    Each sensor calls it once per tick. The mesh is loaded (`load_healthy`: what spec errors
    break is left out, never raised, so a broken domain does not stop the others' alerts) on
    the first call, and again only when a file under `domains/` changed since; every other call
    costs a scan of the files' modification times.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or repo_root()).resolve()
        self._lock = threading.Lock()  # sensors of one location may be evaluated at once
        self._loaded: tuple[Fingerprint, Mesh] | None = None

    def __call__(self) -> Mesh:
        """The mesh as its files are now."""
        with self._lock:
            seen = spec_fingerprint(self.root)
            if self._loaded is None or self._loaded[0] != seen:
                self._loaded = (seen, load_healthy(self.root))
            return self._loaded[1]


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
    catalog: Catalog,
    notifier: Notifier,
    mesh: MeshSpecs,
    standard: BudgetStandard | None = None,
    now: datetime | None = None,
) -> list[AlertDraft]:
    """Notify (once per month) each breach of the budget standard (default: the registry's)
    that no active exception covers, to whoever answers for the domain's budget; the spend
    and the waivers are `catalog`'s."""
    standard = standard or budget_standard()
    if standard is None:
        return []
    domains = {name: source.spec for name, source in mesh.domains.items()}
    return evaluate_budgets(catalog, notifier, standard, domains, recipients, now=now)


def build_budget_sensor(mesh: Callable[[], MeshSpecs]) -> dg.SensorDefinition:
    """The budget watch: this month's production spend against the budget standard; `mesh`
    gives the mesh of this tick."""

    @dg.sensor(
        name="mesh_budget_watch",
        # Costs accrue run by run; a breach a few minutes late is fine, a scan every 30 s is not.
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Notifies each domain (or the platform team, its proxy) once per month of "
        "each budget limit its production runs exceed, unless an exception covers it.",
    )
    def mesh_budget_watch(
        context: dg.SensorEvaluationContext, catalog: CatalogResource, notifier: Notifier
    ) -> dg.SkipReason:
        """Evaluate the budgets (a catalog outage or a bad standard fails the tick)."""
        drafts = watch_budgets(catalog.open(), notifier, mesh())
        return dg.SkipReason(f"{len(drafts)} budget breach(es) this month, each notified once")

    return mesh_budget_watch


def platform_sensors(mesh_root: Path | None = None) -> dg.Definitions:
    """Failure routing, quality history, notification retries, the budget watch, the
    subscription approvals and the marketplace catalog's sync, sharing one `SensorMesh` of the
    mesh under `mesh_root` (default: this checkout)."""
    mesh = SensorMesh(mesh_root)
    return dg.Definitions(
        sensors=[
            build_failure_sensor(mesh),
            build_quality_sensor(mesh),
            build_retry_sensor(),
            build_budget_sensor(mesh),
            build_approval_sensor(mesh),
            build_catalog_sensor(mesh),
        ]
    )
