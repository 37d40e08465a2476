"""What the sync refreshes every time: consumers, table versions, failing samples, quality.

Consumers come from the specs (a product of another domain reading the product, with the
columns it uses) and from approved subscriptions (`access.models.Subscription`). Versions come
from each product's Delta log and, with a Dagster instance, from its materialization events
(run, row count, duration).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from mesh_platform.access.models import APPROVED, Subscription
from mesh_platform.catalog import QualityResult
from mesh_platform.lake.increments import ROWS_DELETED_KEY
from mesh_platform.loader.mesh import Mesh
from mesh_platform.marketplace.models import (
    WINDOW,
    MarketFailingSample,
    MarketMaterialization,
    MarketProduct,
)
from mesh_platform.marketplace.records import consumed_columns
from mesh_platform.spec.workspace import Key

if TYPE_CHECKING:
    import dagster as dg

# Versions kept per product (the page shows them; the Delta log keeps the full history).
VERSIONS_KEPT = 20
SAMPLE_KEY = "mesh/sample"
NOT_SHOWN = (
    "(not shown: recorded before failing samples were kept as a reader without clearance "
    "sees them; the check's next failure records one)"
)


@dataclass(frozen=True)
class ConsumerRow:
    """`consumer` reads `product` (both `domain.product`, or a domain for a subscription)."""

    product: str
    consumer: str
    consumer_domain: str
    kind: str  # product | subscription
    visibility: str
    columns: tuple[str, ...]


def consumers_of(mesh: Mesh, session: Session) -> list[ConsumerRow]:
    """Every product of another domain reading a product, then each approved subscription of
    a domain none of whose products reads it (yet)."""
    rows: list[ConsumerRow] = []
    for key in mesh.order:
        spec = mesh.products[key].spec
        for port, ref in spec.input_refs().items():
            if ref[0] == spec.domain:
                continue  # the producer's own pipeline: lineage, not a consumer
            rows.append(
                ConsumerRow(
                    product=".".join(ref),
                    consumer=spec.qualified_name,
                    consumer_domain=spec.domain,
                    kind="product",
                    visibility=spec.visibility,
                    columns=consumed_columns(mesh, key, port),
                )
            )
    # A domain's subscription that its products' reads already show is not a consumer more.
    reading = {(row.product, row.consumer_domain) for row in rows}
    return rows + [
        row for row in _subscribers(session) if (row.product, row.consumer_domain) not in reading
    ]


def _subscribers(session: Session) -> list[ConsumerRow]:
    """Approved subscriptions (a domain's access to a product, for any use)."""
    approved = session.scalars(select(Subscription).where(Subscription.state == APPROVED))
    return [
        ConsumerRow(
            product=row.product,
            consumer=row.consumer,
            consumer_domain=row.consumer,
            kind="subscription",
            visibility="published",  # a domain's name is no secret
            columns=tuple(json.loads(row.columns or "[]")),
        )
        for row in approved
    ]


def refresh_operations(
    session: Session,
    mesh: Mesh,
    ids: dict[str, int],
    *,
    instance: dg.DagsterInstance | None = None,
    lakehouse: Lake | None = None,
) -> int:
    """Versions, latest state, failing samples and quality scores of the mesh's products;
    returns how many versions are recorded."""
    lake = lakehouse or _default_lakehouse()
    scores = quality_scores(session, list(ids))
    recorded = 0
    for key in mesh.order:
        name = ".".join(key)
        ident = ids[name]
        versions = _delta_versions(lake, key)
        if instance is not None:
            _merge_runs(versions, instance, key)
            _write_samples(session, ident, instance, mesh, key)
        session.execute(
            delete(MarketMaterialization).where(MarketMaterialization.product_id == ident)
        )
        if versions:
            session.execute(
                insert(MarketMaterialization),
                [{"product_id": ident, **v} for v in versions.values()],
            )
        latest = versions[max(versions)] if versions else None
        session.execute(
            update(MarketProduct)
            .where(MarketProduct.id == ident)
            .values(
                quality_score=scores.get(name),
                last_materialized_epoch=latest["at"].timestamp() if latest else None,
                last_row_count=latest["row_count"] if latest else None,
                delta_version=max(versions) if versions else None,
            )
        )
        recorded += len(versions)
    return recorded


class Lake(Protocol):
    """Where product tables are (a `Lakehouse`, without importing Dagster for one)."""

    @property
    def storage_options(self) -> dict[str, str]: ...

    def uri(self, key: Key) -> str: ...


@dataclass(frozen=True)
class LakeRoot:
    """The environment's lake (`MESH_LAKE_ROOT`), as the `Lakehouse` resource places tables."""

    root: str
    storage_options: dict[str, str] = field(default_factory=dict)

    def uri(self, key: Key) -> str:
        """The product's table."""
        return f"{self.root.rstrip('/')}/{key[0]}/{key[1]}"


def _default_lakehouse() -> Lake:
    from mesh_platform.config import environment

    return LakeRoot(environment.lake_root())


def _delta_versions(lake: Lake, key: Key) -> dict[int, dict[str, Any]]:
    """The table's last versions from its Delta log: time, operation, rows and write time."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(lake.uri(key), storage_options=lake.storage_options or None)
    except (TableNotFoundError, OSError):
        return {}
    versions: dict[int, dict[str, Any]] = {}
    for commit in table.history(limit=VERSIONS_KEPT):
        if "version" not in commit:
            continue
        metrics = commit.get("operationMetrics") or {}
        written = metrics.get("num_added_rows")
        versions[int(commit["version"])] = {
            "delta_version": int(commit["version"]),
            "at": datetime.fromtimestamp(commit["timestamp"] / 1000, UTC),
            "operation": _operation(commit, metrics)[:50],
            "rows_written": int(written) if written is not None else None,
            "row_count": None,
            "duration_seconds": None,
            "run_id": None,
        }
    return versions


def _operation(commit: dict[str, Any], metrics: dict[str, Any]) -> str:
    """The commit's operation, with what an incremental write did to the rows (a merge's
    metrics, or the rows a replaced window lost, recorded by `lake/increments.py`)."""
    operation = str(commit.get("operation", ""))
    if operation == "MERGE":
        counts = (
            metrics.get("num_target_rows_inserted", 0),
            metrics.get("num_target_rows_updated", 0),
            metrics.get("num_target_rows_deleted", 0),
        )
    elif ROWS_DELETED_KEY in commit:
        counts = (metrics.get("num_added_rows", 0), 0, commit[ROWS_DELETED_KEY])
    else:
        return operation
    return f"{operation}: {counts[0]} added, {counts[1]} updated, {counts[2]} deleted"


def _merge_runs(
    versions: dict[int, dict[str, Any]], instance: dg.DagsterInstance, key: Key
) -> None:
    """Each version's run, row count and duration, from the materialization that wrote it."""
    import dagster as dg

    found = instance.fetch_materializations(dg.AssetKey(list(key)), limit=VERSIONS_KEPT)
    for record in found.records:
        event = record.asset_materialization
        if event is None:
            continue
        meta = {k: getattr(v, "value", v) for k, v in event.metadata.items()}
        version = meta.get("mesh/delta_version")
        if not isinstance(version, int) or version not in versions:
            continue
        row_count, seconds = meta.get("dagster/row_count"), meta.get("mesh/duration_seconds")
        versions[version].update(
            run_id=record.run_id,
            row_count=int(row_count) if isinstance(row_count, int) else None,
            duration_seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
        )


def _write_samples(
    session: Session, ident: int, instance: dg.DagsterInstance, mesh: Mesh, key: Key
) -> None:
    """Each check's latest failing evaluation among its recent ones, with its sample rows."""
    import dagster as dg

    from mesh_platform.quality.checks import check_specs

    session.execute(delete(MarketFailingSample).where(MarketFailingSample.product_id == ident))
    storage = instance.event_log_storage
    rows = []
    for check in check_specs(mesh.products[key].spec):
        for record in storage.get_asset_check_execution_history(check.key, limit=WINDOW):
            evaluation = record.evaluation
            if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
                continue
            meta = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
            count, percent = meta.get("mesh/failing_count"), meta.get("mesh/failing_percent")
            rows.append(
                {
                    "product_id": ident,
                    "check_name": check.name,
                    "at": datetime.fromtimestamp(record.create_timestamp, UTC),
                    "failing_count": int(count) if isinstance(count, (int, float)) else None,
                    "failing_percent": (
                        float(percent) if isinstance(percent, (int, float)) else None
                    ),
                    "sample": shown_sample(meta),
                    "run_id": record.run_id or None,
                }
            )
            break  # newest first: the latest failure of this check
    if rows:
        session.execute(insert(MarketFailingSample), rows)


def shown_sample(meta: dict[str, Any]) -> str:
    """A check's failing sample as the catalog shows it to anyone: as the quality gate kept it
    (what a reader without clearance sees), with what was masked or left out; one recorded
    before samples were kept that way is not shown."""
    from mesh_platform.quality.samples import SAMPLE_MASKED, SAMPLE_VIEW, UNCLEARED_VIEW

    sample = str(meta.get(SAMPLE_KEY, ""))
    if meta.get(SAMPLE_VIEW) != UNCLEARED_VIEW:
        return sample if sample in ("", "[]") else NOT_SHOWN
    protected = meta.get(SAMPLE_MASKED)
    if not isinstance(protected, dict) or not protected:
        return sample
    said = "; ".join(f"{column} {how}" for column, how in protected.items())
    return f"{sample}\n(as a reader without clearance sees it: {said})"


def quality_scores(session: Session, products: list[str]) -> dict[str, float]:
    """Per product with a quality history, its score 0-100."""
    by_check: dict[tuple[str, str], list[bool]] = defaultdict(list)
    query = select(QualityResult.product, QualityResult.check_name, QualityResult.passed).order_by(
        QualityResult.event_id
    )
    for product, check, passed in session.execute(query):
        by_check[(product, check)].append(bool(passed))
    rates: dict[str, list[float]] = defaultdict(list)
    for (product, _), results in by_check.items():
        recent = results[-WINDOW:]
        rates[product].append(sum(recent) / len(recent))
    wanted = set(products)
    return {p: round(100 * sum(r) / len(r), 1) for p, r in rates.items() if p in wanted and r}
