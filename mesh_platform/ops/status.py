"""Status for operators: per product, last run, freshness, quality and open alerts.

Facts come from the Dagster instance (materializations, check evaluations) and the catalog
(quality history, alerts); the same facts show in the UI as checks and metadata.

In two parts: `run_facts` reads the specs and the Dagster instance (what `mesh status` keeps
between commands while neither changed), `status_rows` adds what the catalog says now
(quality, alerts, notifications) and the ages as of now. Dagster is imported by the first
only.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select

from mesh_platform.catalog import Alert, Catalog, OutboxMessage
from mesh_platform.catalog.models import UNDELIVERED
from mesh_platform.ops.quality_scores import product_quality

if TYPE_CHECKING:
    import dagster as dg

    from mesh_platform.loader.mesh import MeshSpecs
    from mesh_platform.notify import Notifier

Freshness = Literal["fresh", "stale", "never", "no_sla"]


@dataclass(frozen=True)
class ProductStatus:
    """What an operator needs to know about one product."""

    product: str
    visibility: str
    last_materialized: str | None
    last_run_id: str | None
    freshness: Freshness
    age_hours: float | None
    max_age_hours: float | None
    quality_score: float | None
    failing_checks: list[str]
    open_alerts: int
    last_failure: str | None
    # Notifications about the product not delivered: still being retried, or given up.
    undelivered_notifications: int = 0
    # The failed ones among them (given up, or waiting for a retry), one line each.
    failed_notifications: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


@dataclass(frozen=True)
class Undelivered:
    """A notification not delivered: given up after its last attempt, or failed and waiting
    for its next one (backoff)."""

    product: str | None
    channel: str
    status: str  # gave_up | failed
    attempts: int
    next_attempt_at: str | None
    error: str | None
    subject: str

    def line(self) -> str:
        """One line for the terminal."""
        when = "given up" if self.status == "gave_up" else f"next attempt {self.next_attempt_at}"
        return (
            f"{self.product or '-'} via {self.channel}: {self.subject} ({when} after "
            f"{self.attempts} attempt(s)): {self.error or 'no error recorded'}"
        )


def undelivered(source: Notifier | Catalog, limit: int = 50) -> list[Undelivered]:
    """The notifications that failed (given up first, then retried), newest first; from a
    notifier's catalog or a catalog."""
    catalog = source if isinstance(source, Catalog) else source.catalog()
    with catalog.session() as session:
        rows = session.execute(
            select(Alert.product, OutboxMessage)
            .join(Alert, Alert.id == OutboxMessage.alert_id)
            .where(OutboxMessage.status.in_(("gave_up", "failed")))
            .order_by(OutboxMessage.status.desc(), OutboxMessage.id.desc())
            .limit(limit)
        ).all()
    return [
        Undelivered(
            product=product,
            channel=m.channel,
            status=m.status,
            attempts=m.attempts,
            next_attempt_at=(
                m.next_attempt_at.strftime("%Y-%m-%dT%H:%M:%SZ") if m.next_attempt_at else None
            ),
            error=m.error,
            subject=m.subject,
        )
        for product, m in rows
    ]


@dataclass(frozen=True)
class RunFacts:
    """What the specs and the Dagster instance say of a product: its SLA and last run."""

    product: str
    visibility: str
    max_age_hours: float | None
    materialized_at: float | None  # the latest materialization's time (epoch seconds)
    run_id: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (and back: `RunFacts(**data)`)."""
        return asdict(self)


def run_facts(mesh: MeshSpecs, instance: dg.DagsterInstance) -> list[RunFacts]:
    """Each product's SLA and latest materialization, in the mesh's order."""
    import dagster as dg

    facts = []
    for key in mesh.order:
        spec = mesh.products[key].spec
        event = instance.get_latest_materialization_event(dg.AssetKey(list(key)))
        facts.append(
            RunFacts(
                product=spec.qualified_name,
                visibility=spec.visibility,
                max_age_hours=spec.freshness.max_age_hours if spec.freshness else None,
                materialized_at=event.timestamp if event else None,
                run_id=event.run_id if event else None,
            )
        )
    return facts


def mesh_status(
    mesh: MeshSpecs, instance: dg.DagsterInstance, notifier: Notifier
) -> list[ProductStatus]:
    """Every product's status, after bringing the quality history up to date (read-only).

    Raises `CatalogUnavailable` (one message naming the database) when the catalog is down.
    """
    from mesh_platform.ops.quality_history import project_checks

    project_checks(instance, notifier, mesh, alert=False)
    return status_rows(run_facts(mesh, instance), notifier.catalog())


def status_rows(
    facts: list[RunFacts], catalog: Catalog, now: float | None = None
) -> list[ProductStatus]:
    """Each product's status: its run facts with the catalog's quality history, alerts and
    notifications, its age as of `now` (default: now)."""
    undelivered_counts = _undelivered_counts(catalog)
    failed: dict[str | None, list[str]] = {}
    for message in undelivered(catalog):
        failed.setdefault(message.product, []).append(message.line())
    open_alerts, last_failures = _alerts_by_product(catalog)
    now = time.time() if now is None else now
    rows = []
    for fact in facts:
        name = fact.product
        at = fact.materialized_at
        age = (now - at) / 3600 if at is not None else None
        score, histories = product_quality(catalog, name)
        rows.append(
            ProductStatus(
                product=name,
                visibility=fact.visibility,
                last_materialized=(
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)) if at is not None else None
                ),
                last_run_id=fact.run_id,
                freshness=_freshness(at is not None, age, fact.max_age_hours),
                age_hours=round(age, 2) if age is not None else None,
                max_age_hours=fact.max_age_hours,
                quality_score=score,
                failing_checks=[h.check_name for h in histories if not h.last_passed],
                open_alerts=int(open_alerts.get(name, 0)),
                last_failure=last_failures.get(name),
                undelivered_notifications=undelivered_counts.get(name, 0),
                failed_notifications=failed.get(name, []),
            )
        )
    return rows


def _undelivered_counts(catalog: Catalog) -> dict[str | None, int]:
    """Messages not delivered (pending, being retried or given up), per alert product: what
    `Notifier.undelivered_by_product` counts, without a notifier (nor Dagster)."""
    with catalog.session() as session:
        rows = session.execute(
            select(Alert.product, func.count(OutboxMessage.id))
            .join(Alert, Alert.id == OutboxMessage.alert_id)
            .where(OutboxMessage.status.in_(UNDELIVERED))
            .group_by(Alert.product)
        ).all()
    return {product: int(count) for product, count in rows}


def _alerts_by_product(
    catalog: Catalog,
) -> tuple[dict[str | None, int], dict[str | None, str | None]]:
    """Per product: how many of its alerts are open, and the run of its latest run failure."""
    with catalog.session() as session:
        open_alerts = dict(
            session.execute(
                select(Alert.product, func.count())
                .where(Alert.status == "open")
                .group_by(Alert.product)
            ).all()
        )
        last_failures = dict(
            session.execute(
                select(Alert.product, func.max(Alert.run_url))
                .where(Alert.kind == "run_failure")
                .group_by(Alert.product)
            ).all()
        )
    return open_alerts, last_failures


def _freshness(materialized: bool, age: float | None, limit: float | None) -> Freshness:
    """Whether a product's last materialization (`age` hours ago) is within its SLA."""
    if not materialized:
        return "never"
    if limit is None:
        return "no_sla"
    return "fresh" if age is not None and age <= limit else "stale"


def render(rows: list[ProductStatus], failed: list[Undelivered] | None = None) -> str:
    """A table for the terminal, then the notifications that could not be delivered."""
    lines = [
        f"{'product':<40} {'last run':<20} {'freshness':<9} {'quality':>7} {'alerts':>6} "
        f"{'unsent':>6}  failing"
    ]
    for r in rows:
        score = f"{r.quality_score:.1f}" if r.quality_score is not None else "-"
        lines.append(
            f"{r.product:<40} {r.last_materialized or 'never':<20} {r.freshness:<9} "
            f"{score:>7} {r.open_alerts:>6} {r.undelivered_notifications:>6}  "
            f"{', '.join(r.failing_checks) or '-'}"
        )
    if failed:
        lines += ["", f"notifications not delivered ({len(failed)}):"]
        lines += [f"  {u.line()}" for u in failed]
    return "\n".join(lines)
