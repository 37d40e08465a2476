"""Keeping the marketplace's tables in step with the specs, the lake and the Dagster instance.

`sync_catalog` runs (docs/catalog.md): before `mesh search` and `mesh show` answer (unless
`--no-sync`), and every minute in the platform's `mesh_catalog_sync` sensor while `mesh up`
serves. A product is rewritten only when its record's digest changed; a product gone from the
specs is removed, except one left out by a spec error (its last good record stays until the
error is fixed). Consumers, versions, samples and quality scores are refreshed every time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mesh_platform.catalog import Catalog
from mesh_platform.loader.mesh import Mesh
from mesh_platform.marketplace import fulltext
from mesh_platform.marketplace.models import (
    MarketColumn,
    MarketConsumer,
    MarketInput,
    MarketOwner,
    MarketProduct,
    MarketTag,
)
from mesh_platform.marketplace.operations import (
    ConsumerRow,
    Lake,
    consumers_of,
    refresh_operations,
)
from mesh_platform.marketplace.records import ProductRecord, as_json, product_record

if TYPE_CHECKING:
    import dagster as dg


@dataclass(frozen=True)
class SyncReport:
    """What one sync changed."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int
    consumers: int
    versions: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    def summary(self) -> str:
        """One line for a log or the terminal."""
        return (
            f"catalog synced in {self.seconds:.2f} s: {len(self.added)} added, "
            f"{len(self.updated)} updated, {len(self.removed)} removed, {self.unchanged} "
            f"unchanged; {self.consumers} consumer link(s), {self.versions} table version(s)"
        )


def sync_catalog(
    catalog: Catalog,
    mesh: Mesh,
    *,
    instance: dg.DagsterInstance | None = None,
    lakehouse: Lake | None = None,
) -> SyncReport:
    """Bring the catalog's marketplace tables in step with `mesh`'s specs and what ran.

    Table versions come from the Delta log of each product (`lakehouse`, default: this
    environment's lake); with a Dagster `instance`, each version also gets its run, row count
    and duration, and each failing check its latest failing sample. Quality scores come from
    the quality history (`quality_results`, projected by the quality sensor).
    """
    started = time.perf_counter()
    records = [product_record(mesh, key) for key in mesh.order]
    try:
        return _sync(catalog, mesh, records, started, instance, lakehouse)
    except IntegrityError:
        # Another process (the sensor, a command) added the same product at the same moment:
        # its transaction is committed now, so this one finds the product and goes on.
        return _sync(catalog, mesh, records, started, instance, lakehouse)


def _sync(
    catalog: Catalog,
    mesh: Mesh,
    records: list[ProductRecord],
    started: float,
    instance: dg.DagsterInstance | None,
    lakehouse: Lake | None,
) -> SyncReport:
    # Left out by a spec error: the last good record stays until the error is fixed.
    protected = {".".join(key) for key in mesh.excluded}
    kept_domains = set(mesh.broken_domains)
    with catalog.session() as session:
        existing = {
            name: (ident, digest)
            for ident, name, digest in session.execute(
                select(MarketProduct.id, MarketProduct.name, MarketProduct.spec_hash)
            ).all()
        }
        wanted = {r.name for r in records}
        gone = [
            name
            for name in existing
            if name not in wanted
            and name not in protected
            and name.split(".", 1)[0] not in kept_domains
        ]
        remove_products(session, [existing[n][0] for n in gone])
        added = [r for r in records if r.name not in existing]
        changed = [r for r in records if r.name in existing and existing[r.name][1] != r.digest]
        for record in changed:
            _replace(session, existing[record.name][0], record)
        write_products(session, added)
        ids = dict(session.execute(select(MarketProduct.name, MarketProduct.id)).all())
        links = consumers_of(mesh, session)
        write_consumers(session, ids, links)
        versions = refresh_operations(session, mesh, ids, instance=instance, lakehouse=lakehouse)
    return SyncReport(
        added=tuple(r.name for r in added),
        updated=tuple(r.name for r in changed),
        removed=tuple(sorted(gone)),
        unchanged=len(records) - len(added) - len(changed),
        consumers=len(links),
        versions=versions,
        seconds=round(time.perf_counter() - started, 3),
    )


def write_products(session: Session, records: Sequence[ProductRecord]) -> dict[str, int]:
    """Insert new products with their columns, tags, owners and index documents; returns
    their ids by name (the benchmark fills a generated catalog through this too)."""
    if not records:
        return {}
    now = datetime.now(UTC)
    session.execute(insert(MarketProduct), [_product_row(r, now) for r in records])
    names = [r.name for r in records]
    ids: dict[str, int] = {}
    for chunk in range(0, len(names), 500):
        ids.update(
            session.execute(
                select(MarketProduct.name, MarketProduct.id).where(
                    MarketProduct.name.in_(names[chunk : chunk + 500])
                )
            ).all()
        )
    _write_children(session, [(ids[r.name], r) for r in records])
    return ids


def remove_products(session: Session, ids: Sequence[int]) -> None:
    """Delete products and everything hanging from them (the index too)."""
    if not ids:
        return
    fulltext.remove(session, ids)
    for model in (MarketColumn, MarketTag, MarketOwner, MarketInput, MarketConsumer):
        session.execute(delete(model).where(model.product_id.in_(ids)))
    session.execute(delete(MarketProduct).where(MarketProduct.id.in_(ids)))


def write_consumers(session: Session, ids: dict[str, int], links: Iterable[ConsumerRow]) -> None:
    """Replace every consumer link, and each product's consumer count."""
    session.execute(delete(MarketConsumer))
    links = list(links)
    rows: list[dict[str, Any]] = [
        {
            "product_id": ids[link.product],
            "consumer": link.consumer,
            "consumer_domain": link.consumer_domain,
            "kind": link.kind,
            "visibility": link.visibility,
            "columns": as_json(list(link.columns)),
        }
        for link in links
        if link.product in ids
    ]
    if rows:
        session.execute(insert(MarketConsumer), rows)
    counts = Counter(ids[link.product] for link in links if link.product in ids)
    session.execute(update(MarketProduct).values(consumer_count=0))
    for ident, count in counts.items():
        session.execute(
            update(MarketProduct).where(MarketProduct.id == ident).values(consumer_count=count)
        )


def _replace(session: Session, ident: int, record: ProductRecord) -> None:
    for model in (MarketColumn, MarketTag, MarketOwner, MarketInput):
        session.execute(delete(model).where(model.product_id == ident))
    row = _product_row(record, datetime.now(UTC))
    session.execute(update(MarketProduct).where(MarketProduct.id == ident).values(**row))
    _write_children(session, [(ident, record)])


def _product_row(record: ProductRecord, now: datetime) -> dict[str, Any]:
    return {
        "name": record.name,
        "domain": record.domain,
        "product": record.product,
        "visibility": record.visibility,
        "description": record.description,
        "version": record.version,
        "team": record.team,
        "owners": as_json(list(record.owners)),
        "on_call": record.on_call,
        "tags": as_json(record.tags),
        "freshness_hours": record.freshness_hours,
        "schedule": record.schedule,
        "automation": record.automation,
        "inputs": as_json(record.inputs),
        "steps": as_json(list(record.steps)),
        "rules": as_json(list(record.rules)),
        "spec_path": record.spec_path,
        "impact": as_json(record.impact),
        "spec_hash": record.digest,
        "synced_at": now,
    }


def _write_children(session: Session, products: Sequence[tuple[int, ProductRecord]]) -> None:
    columns: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    owners: list[dict[str, Any]] = []
    inputs: list[dict[str, Any]] = []
    documents = []
    for ident, record in products:
        for position, column in enumerate(record.columns):
            columns.append(
                {
                    "product_id": ident,
                    "position": position,
                    "name": column.name,
                    "type": column.type,
                    "description": column.description,
                    "formula": column.formula,
                    "tags": as_json(list(column.tags)),
                    "sources": as_json([list(s) for s in column.sources]),
                    "uncleared": column.uncleared,
                }
            )
        search_tags = record.search_tags()
        tags.extend({"product_id": ident, "tag": tag} for tag in search_tags)
        owners.extend({"product_id": ident, "owner": owner} for owner in record.owners)
        inputs.extend(
            {"product_id": ident, "input": ref} for ref in sorted(set(record.inputs.values()))
        )
        documents.append(
            fulltext.Document(
                product_id=ident,
                name=f"{record.domain} {record.product}",
                description=record.description,
                columns=" ".join(c.name for c in record.columns),
                column_text=" ".join(c.description for c in record.columns if c.description),
                tags=" ".join(search_tags),
            )
        )
    written = (
        (MarketColumn, columns),
        (MarketTag, tags),
        (MarketOwner, owners),
        (MarketInput, inputs),
    )
    for model, rows in written:
        if rows:
            session.execute(insert(model), rows)
    fulltext.index(session, documents)
