"""Quality history: check evaluations projected from Dagster's event log into the catalog.

The projection reads each check's latest executions from Dagster's check index; each is
stored once (unique on its execution id), so a replay or a restart changes nothing. While
projecting, failed `warn` checks and stale products raise domain alerts (soft failures).
Failed `error` checks fail their run, and failure routing tells the domain about them.

Nothing is skipped after a catalog outage, however long: a tick that cannot write fails
(`CatalogUnavailable`), and the next one reads each check's history back, page by page, until
it reaches an execution already projected, then projects and alerts oldest first, so the
newest execution stored is always re-read and its alert (idempotent) re-raised.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mesh_platform.catalog import Catalog, QualityResult
from mesh_platform.loader.mesh import MeshSpecs
from mesh_platform.notify import AlertDraft, Notifier

# The scores moved to a module without Dagster; named here too, for their earlier readers.
from mesh_platform.ops.quality_scores import WINDOW as WINDOW
from mesh_platform.ops.quality_scores import CheckHistory as CheckHistory
from mesh_platform.ops.quality_scores import product_quality as product_quality
from mesh_platform.ops.routing import recipients, severity_of
from mesh_platform.quality.checks import check_specs

FRESHNESS_CHECK = "freshness_check"  # the name dg.build_last_update_freshness_checks gives


def check_keys(mesh: MeshSpecs) -> list[dg.AssetCheckKey]:
    """Every check of every product: contract, schema change, rules, freshness."""
    keys: list[dg.AssetCheckKey] = []
    for key in mesh.order:
        spec = mesh.products[key].spec
        keys.extend(s.key for s in check_specs(spec))
        if spec.freshness is not None:
            keys.append(dg.AssetCheckKey(dg.AssetKey(list(key)), FRESHNESS_CHECK))
    return keys


def project_checks(
    instance: dg.DagsterInstance,
    notifier: Notifier,
    mesh: MeshSpecs,
    per_check: int = 25,
    alert: bool = True,
) -> list[AlertDraft]:
    """Bring the quality history up to date; alert on soft failures. Returns the alerts raised
    for the first time (an alert raised again, e.g. the newest stored execution's, is not).

    Reads each check's executions not yet projected (Dagster's check index, `per_check` at a
    time; a check never projected before starts with its latest `per_check`); rows and alerts
    are keyed by the execution's id, so a replay adds nothing. With `alert=False` (the CLI's
    read-only refresh) nothing is notified.
    """
    catalog = notifier.catalog()
    drafts: list[AlertDraft] = []
    for key in check_keys(mesh):
        product = ".".join(key.asset_key.path)
        records, stored = _unprojected(instance, catalog, key, product, per_check)
        for record in records:  # oldest first: an outage leaves a prefix projected
            evaluation = record.evaluation
            if not isinstance(evaluation, dg.AssetCheckEvaluation):  # planned, not yet run
                continue
            meta = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
            if record.id not in stored:
                _store(catalog, record, product, evaluation, meta)
            if alert and not evaluation.passed:
                draft = _soft_failure(record, product, evaluation, meta, notifier, mesh)
                if draft is not None and notifier.publish_new(draft):
                    drafts.append(draft)
    return drafts


def _unprojected(
    instance: dg.DagsterInstance,
    catalog: Catalog,
    key: dg.AssetCheckKey,
    product: str,
    per_check: int,
) -> tuple[list[Any], set[int]]:
    """A check's executions from the newest back to the first page holding one already
    projected (that page included), oldest first; and which of them are projected."""
    storage = instance.event_log_storage
    with catalog.session() as session:
        projected_before = session.scalar(
            select(QualityResult.id)
            .where(QualityResult.product == product, QualityResult.check_name == key.name)
            .limit(1)
        )
    records: list[Any] = []
    stored: set[int] = set()
    cursor = None
    while True:
        page = storage.get_asset_check_execution_history(key, limit=per_check, cursor=cursor)
        records.extend(page)
        with catalog.session() as session:
            stored.update(
                session.scalars(
                    select(QualityResult.event_id).where(
                        QualityResult.event_id.in_([r.id for r in page])
                    )
                )
            )
        # A check never projected starts from its latest executions, not its whole history.
        if stored or projected_before is None or len(page) < per_check:
            break
        cursor = page[-1].id
    return records[::-1], stored


def _store(catalog: Catalog, record: Any, product: str, evaluation: Any, meta: dict) -> None:
    try:
        with catalog.session() as session:
            session.add(
                QualityResult(
                    event_id=record.id,
                    product=product,
                    check_name=evaluation.check_name,
                    passed=bool(evaluation.passed),
                    severity=evaluation.severity.value,
                    failing_count=_int(meta.get("mesh/failing_count")),
                    failing_percent=_float(meta.get("mesh/failing_percent")),
                    run_id=record.run_id or None,
                    evaluated_at=datetime.fromtimestamp(record.create_timestamp, UTC),
                )
            )
    except IntegrityError:
        pass  # another process projected it at the same moment


def _soft_failure(
    record: Any, product: str, evaluation: Any, meta: dict, notifier: Notifier, mesh: MeshSpecs
) -> AlertDraft | None:
    is_freshness = evaluation.check_name == FRESHNESS_CHECK
    if evaluation.severity != dg.AssetCheckSeverity.WARN and not is_freshness:
        return None  # a failed blocking check failed its run: failure routing tells the domain
    domain_name = product.partition(".")[0]
    domain = mesh.domains.get(domain_name)
    if domain is None:
        return None
    severity, hours = severity_of(product, mesh)
    run_id = record.run_id or None
    if is_freshness:
        day = datetime.fromtimestamp(record.create_timestamp, UTC).date()
        return AlertDraft(
            dedupe_key=f"freshness:{product}:{day.isoformat()}",
            kind="freshness",
            audience="domain",
            domain=domain_name,
            title=f"[{severity}] {product} is stale",
            body=(
                f"What: {product} was not updated within its freshness SLA. "
                f"{evaluation.description or ''}\nHow to fix: check its last runs and its "
                "upstream products; materialize it (`mesh materialize "
                f"{product}`) once the cause is fixed."
            ),
            severity=severity,
            recipients=recipients(domain.spec),
            product=product,
            time_to_recover_hours=hours,
        )
    return AlertDraft(
        dedupe_key=f"quality:{record.id}",
        kind="quality",
        audience="domain",
        domain=domain_name,
        title=f"[warn] {product}: rule {evaluation.check_name} failed (processing continued)",
        body=(
            f"What failed: the `warn` rule {evaluation.check_name!r} of {product}: "
            f"{meta.get('mesh/failing_count', '?')} rows ({meta.get('mesh/failing_percent', '?')}"
            f"%), sample {meta.get('mesh/sample', '[]')}.\n"
            f"{evaluation.description or ''}\nHow to fix: look at the sample, then fix the data "
            f"or the step producing it (`mesh preview {product}`); downstream products ran."
        ),
        severity=severity,
        recipients=recipients(domain.spec),
        product=product,
        run_id=run_id,
        run_url=notifier.run_url(run_id) if run_id else None,
        time_to_recover_hours=hours,
    )


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def build_quality_sensor(mesh: Callable[[], MeshSpecs]) -> dg.SensorDefinition:
    """The platform's quality sensor: history into the catalog, soft failures to domains;
    `mesh` gives the mesh of this tick (the location's shared `SensorMesh`)."""

    @dg.sensor(
        name="mesh_quality_history",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Projects every check evaluation into the catalog's quality history and "
        "notifies the owning domain of failed `warn` rules and stale products.",
    )
    def mesh_quality_history(context: dg.SensorEvaluationContext, notifier: Notifier) -> Any:
        """Project new check evaluations; alert on soft failures (idempotent)."""
        drafts = project_checks(context.instance, notifier, mesh())
        for draft in drafts:  # each alert once: the ticks that raise it again log nothing
            context.log.info(f"alert raised: {draft.title}")
        return dg.SkipReason(f"projected check evaluations; {len(drafts)} new alert(s)")

    return mesh_quality_history
