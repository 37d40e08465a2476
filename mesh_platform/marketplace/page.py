"""The product page's data: everything a consumer needs to judge a product, from the catalog.

Read from the marketplace's tables (kept in step by `sync_catalog`) and the quality history,
so the web page and `mesh show` answer without planning the mesh. Names of internal products
of other domains than the viewer's are never shown (only counted).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mesh_platform.catalog import Catalog, QualityResult
from mesh_platform.errors import MeshError
from mesh_platform.marketplace.models import (
    WINDOW,
    MarketColumn,
    MarketConsumer,
    MarketFailingSample,
    MarketInput,
    MarketMaterialization,
    MarketProduct,
)
from mesh_platform.marketplace.origins import Origin, follow_upstream, seen_by

if TYPE_CHECKING:
    from mesh_platform.loader.mesh import Mesh

READS_DAYS = 30  # popularity: consumers' runs over this many days


class ProductNotFound(MeshError):
    """No product of that name, or one the viewer may not see."""


@dataclass(frozen=True)
class PageColumn:
    """A contract column with its meaning followed upstream."""

    name: str
    type: str
    description: str
    formula: str
    tags: tuple[str, ...]
    upstream: tuple[Origin, ...]
    # How a reader of another domain without clearance sees it ('' in clear, or for the
    # owner): `masked (redact): tag 'pii': clear for clearance 'pii'`, `hidden: ...`.
    masked: str = ""


@dataclass(frozen=True)
class PageRule:
    """A check of the product (a spec rule, or one the platform adds) and its record."""

    name: str
    rule: str
    columns: tuple[str, ...]
    severity: str
    description: str
    evaluations: int
    pass_rate: float | None  # over the last WINDOW evaluations
    last_passed: bool | None


@dataclass(frozen=True)
class FailingSample:
    """A check's latest failure: how many rows and a few of them."""

    check: str
    at: str
    failing_count: int | None
    failing_percent: float | None
    sample: str
    run_id: str | None


@dataclass(frozen=True)
class TableVersion:
    """A committed version of the product's Delta table."""

    delta_version: int
    at: str
    operation: str
    rows_written: int | None
    row_count: int | None
    duration_seconds: float | None
    run_id: str | None


@dataclass(frozen=True)
class PageStep:
    """A step and the schema after it."""

    name: str
    kind: str
    detail: str
    description: str
    schema: dict[str, str] | None


@dataclass(frozen=True)
class PageConsumer:
    """Who reads the product, and which of its columns."""

    consumer: str
    domain: str
    kind: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ProductPage:
    """A product's page: contract, freshness, popularity, quality, versions, lineage."""

    product: str
    domain: str
    name: str
    description: str
    visibility: str
    version: str
    team: str
    owners: tuple[str, ...]
    on_call: str | None
    tags: dict[str, str]
    spec_path: str
    columns: tuple[PageColumn, ...]
    sla_hours: float | None
    last_materialized: str | None
    age_hours: float | None
    freshness: str  # fresh | stale | never | no_sla
    consumer_count: int
    reads: int  # consumers' runs over the last READS_DAYS days
    quality_score: float | None
    rules: tuple[PageRule, ...]
    quality_series: tuple[tuple[str, float], ...]  # (day, pass rate 0-1) for the chart
    failing_samples: tuple[FailingSample, ...]
    table_versions: tuple[TableVersion, ...]
    steps: tuple[PageStep, ...]
    consumers: tuple[PageConsumer, ...]
    hidden_consumers: int  # internal products of other domains, not named
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    dagster_asset_path: tuple[str, ...]  # the asset key: UI at /assets/<path joined by />

    @property
    def code_version(self) -> str:
        """The product's version as its spec declares it (the Dagster code version)."""
        return self.version

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def product_page(
    catalog: Catalog, mesh: Mesh | None, name: str, *, viewer: str | None = None
) -> ProductPage:
    """The page of `domain.product` as `viewer` (a domain; None: another domain) sees it.

    With a `mesh`, the catalog is first synced with it (`sync_catalog`); None reads the
    catalog as last synced (the web app, which a sensor keeps in step).
    """
    if mesh is not None:
        from mesh_platform.marketplace.sync import sync_catalog

        sync_catalog(catalog, mesh)
    now = time.time()
    with catalog.session() as session:
        product = session.scalar(select(MarketProduct).where(MarketProduct.name == name))
        if product is None or not _visible(product.visibility, product.domain, viewer):
            raise ProductNotFound(
                f"no product {name!r} in the catalog that {viewer or 'another domain'} may see; "
                "find products with `mesh search WORDS` (names look like 'sales.customer_revenue')"
            )
        return _page(session, product, viewer, now)


def _visible(visibility: str, domain: str, viewer: str | None) -> bool:
    return visibility == "published" or domain == viewer


def _page(session: Session, p: MarketProduct, viewer: str | None, now: float) -> ProductPage:
    """The page of `p` as `viewer` sees it, from the catalog's rows at `now`."""
    age = (now - p.last_materialized_epoch) / 3600 if p.last_materialized_epoch else None
    consumers = session.scalars(
        select(MarketConsumer).where(MarketConsumer.product_id == p.id)
    ).all()
    shown = [c for c in consumers if _visible(c.visibility, c.consumer_domain, viewer)]
    inputs: dict[str, str] = json.loads(p.inputs)
    steps = [PageStep(**s) for s in json.loads(p.steps)]
    rules, series = _quality(session, p)
    return ProductPage(
        product=p.name,
        domain=p.domain,
        name=p.product,
        description=p.description,
        visibility=p.visibility,
        version=p.version,
        team=p.team,
        owners=tuple(json.loads(p.owners)),
        on_call=p.on_call,
        tags=json.loads(p.tags),
        spec_path=p.spec_path,
        columns=_columns(session, p, viewer),
        sla_hours=p.freshness_hours,
        last_materialized=_iso_epoch(p.last_materialized_epoch),
        age_hours=round(age, 2) if age is not None else None,
        freshness=_freshness(age, p.freshness_hours),
        consumer_count=p.consumer_count,
        reads=_reads(session, [c.consumer for c in consumers if c.kind == "product"], now),
        quality_score=p.quality_score,
        rules=rules,
        quality_series=series,
        failing_samples=_failing_samples(session, p),
        table_versions=_table_versions(session, p),
        steps=tuple(steps),
        consumers=tuple(
            PageConsumer(c.consumer, c.consumer_domain, c.kind, tuple(json.loads(c.columns)))
            for c in sorted(shown, key=lambda c: c.consumer)
        ),
        hidden_consumers=len(consumers) - len(shown),
        upstream=_upstream(session, inputs, viewer),
        downstream=_downstream(session, p, viewer),
        dagster_asset_path=(p.domain, p.product),
    )


def _failing_samples(session: Session, p: MarketProduct) -> tuple[FailingSample, ...]:
    """The failing rows the product's checks kept, newest first."""
    return tuple(
        FailingSample(
            s.check_name, _iso(s.at), s.failing_count, s.failing_percent, s.sample, s.run_id
        )
        for s in session.scalars(
            select(MarketFailingSample)
            .where(MarketFailingSample.product_id == p.id)
            .order_by(MarketFailingSample.at.desc())
        )
    )


def _table_versions(session: Session, p: MarketProduct) -> tuple[TableVersion, ...]:
    """The product's table versions (its materializations), newest first."""
    return tuple(
        TableVersion(
            v.delta_version,
            _iso(v.at),
            v.operation,
            v.rows_written,
            v.row_count,
            v.duration_seconds,
            v.run_id,
        )
        for v in session.scalars(
            select(MarketMaterialization)
            .where(MarketMaterialization.product_id == p.id)
            .order_by(MarketMaterialization.delta_version.desc())
        )
    )


def _upstream(session: Session, inputs: dict[str, str], viewer: str | None) -> tuple[str, ...]:
    """The products the inputs read that `viewer` may see, by name."""
    return tuple(
        session.scalars(
            select(MarketProduct.name)
            .where(MarketProduct.name.in_(set(inputs.values())), seen_by(viewer))
            .order_by(MarketProduct.name)
        )
    )


def _downstream(session: Session, p: MarketProduct, viewer: str | None) -> tuple[str, ...]:
    """The products reading `p` that `viewer` may see, by name."""
    return tuple(
        session.scalars(
            select(MarketProduct.name)
            .join(MarketInput, MarketInput.product_id == MarketProduct.id)
            .where(MarketInput.input == p.name, seen_by(viewer))
            .order_by(MarketProduct.name)
        )
    )


def _columns(session: Session, p: MarketProduct, viewer: str | None) -> tuple[PageColumn, ...]:
    rows = session.execute(
        select(
            MarketColumn.name,
            MarketColumn.type,
            MarketColumn.description,
            MarketColumn.formula,
            MarketColumn.tags,
            MarketColumn.sources,
            MarketColumn.uncleared,
        )
        .where(MarketColumn.product_id == p.id)
        .order_by(MarketColumn.position)
    ).all()
    sources = {r.name: [(s[0], s[1]) for s in json.loads(r.sources)] for r in rows}
    upstream = follow_upstream(session, sources, viewer)
    tags = {r.name: tuple(json.loads(r.tags)) for r in rows}
    # The policy's marks as the sync recorded them; the producer sees its own in clear.
    masked = {r.name: r.uncleared for r in rows} if viewer != p.domain else {}
    return tuple(
        PageColumn(
            r.name,
            r.type,
            r.description,
            r.formula,
            tags[r.name],
            tuple(upstream[r.name]),
            masked.get(r.name, ""),
        )
        for r in rows
    )


def _quality(
    session: Session, p: MarketProduct
) -> tuple[tuple[PageRule, ...], tuple[tuple[str, float], ...]]:
    results = session.execute(
        select(QualityResult.check_name, QualityResult.passed, QualityResult.evaluated_at)
        .where(QualityResult.product == p.name)
        .order_by(QualityResult.event_id)
    ).all()
    by_check: dict[str, list[bool]] = defaultdict(list)
    by_day: dict[str, list[bool]] = defaultdict(list)
    for check, passed, at in results:
        by_check[check].append(bool(passed))
        by_day[at.date().isoformat()].append(bool(passed))
    rules = []
    declared = {r["name"]: r for r in json.loads(p.rules)}
    for name in [*declared, *sorted(set(by_check) - set(declared))]:
        spec = declared.get(
            name,
            {
                "rule": "platform",
                "columns": [],
                "severity": "-",
                "description": "a check the platform adds",
            },
        )
        history = by_check.get(name, [])
        recent = history[-WINDOW:]
        rules.append(
            PageRule(
                name=name,
                rule=spec["rule"],
                columns=tuple(spec["columns"]),
                severity=spec["severity"],
                description=spec["description"],
                evaluations=len(history),
                pass_rate=round(sum(recent) / len(recent), 4) if recent else None,
                last_passed=history[-1] if history else None,
            )
        )
    series = tuple((day, round(sum(v) / len(v), 4)) for day, v in sorted(by_day.items()))
    return tuple(rules), series


def _reads(session: Session, consumers: list[str], now: float) -> int:
    if not consumers:
        return 0
    since = datetime.fromtimestamp(now, UTC) - timedelta(days=READS_DAYS)
    query = (
        select(func.count())
        .select_from(MarketMaterialization)
        .join(MarketProduct, MarketProduct.id == MarketMaterialization.product_id)
        .where(MarketProduct.name.in_(consumers), MarketMaterialization.at >= since)
    )
    return int(session.scalar(query) or 0)


def _freshness(age: float | None, sla: float | None) -> str:
    if age is None:
        return "never"
    if sla is None:
        return "no_sla"
    return "fresh" if age <= sla else "stale"


def _iso(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite returns naive datetimes: they were stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_epoch(epoch: float | None) -> str | None:
    return _iso(datetime.fromtimestamp(epoch, UTC)) if epoch is not None else None
