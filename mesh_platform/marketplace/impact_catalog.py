"""Impact analysis answered from the catalog: the same report as `impact.impact`, without
reading a spec or planning a product.

The sync keeps, per product, its inputs (`market_inputs`), its contract's columns with their
sources, and what the analysis reads beyond them (`impact_facts`: own owners, formulas,
Python steps, whether lineage is known, the input columns its SQL names). The product graph
is read whole (names and inputs: a few milliseconds for 10,000 products); columns and facts
only for the products downstream.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from graphlib import TopologicalSorter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mesh_platform.catalog import Catalog
from mesh_platform.marketplace.impact import ColumnUse, ImpactedProduct, ImpactError, ImpactReport
from mesh_platform.marketplace.models import MarketColumn, MarketInput, MarketProduct


@dataclass(frozen=True)
class _Column:
    name: str
    formula: str
    sources: tuple[str, ...]  # `domain.product.column`


@dataclass(frozen=True)
class _Product:
    name: str
    domain: str
    visibility: str
    on_call: str | None
    owners: tuple[str, ...]
    columns: tuple[_Column, ...]
    python_steps: tuple[str, ...]
    lineage_known: bool
    sql_reads: frozenset[str]


def catalog_impact(catalog: Catalog, name: str, column: str | None = None) -> ImpactReport:
    """Every product downstream of `domain.product` (or of its `column`), from `catalog`."""
    with catalog.session() as session:
        ids = dict(session.execute(select(MarketProduct.name, MarketProduct.id)).all())
        if name not in ids:
            raise ImpactError(
                f"no product {name!r}; products look like 'sales.pricing_summary' (see `mesh list`)"
            )
        inputs = _inputs(session)
        depth, via = _downstream(inputs, name)
        products = _products(session, {ids[n] for n in depth})
    root = products[name]
    schema = [c.name for c in root.columns]
    if column is not None and column not in schema:
        raise ImpactError(f"{name} has no column {column!r}; its columns: {', '.join(schema)}")
    affected: dict[str, set[str]] = {name: {column} if column else set(schema)}
    found = []
    for key in _dependency_order(inputs, depth):
        if key == name:
            continue
        product = products[key]
        hit = {up: affected[up] for up in inputs.get(key, ()) if affected.get(up)}
        uses, filters = _uses(product, hit, column is None) if hit else ((), ())
        affected[key] = {u.column for u in uses}
        if column is not None and not uses and not filters:
            continue
        found.append(
            ImpactedProduct(
                product=key,
                domain=product.domain,
                visibility=product.visibility,
                depth=depth[key],
                via=via[key],
                columns=uses,
                filters=filters,
                owners=product.owners,
                on_call=product.on_call,
            )
        )
    found.sort(key=lambda p: (p.depth, p.product))
    return ImpactReport(name, column, tuple(found))


def _inputs(session: Session) -> dict[str, set[str]]:
    """Each product's inputs (`domain.product`)."""
    rows = session.execute(
        select(MarketProduct.name, MarketInput.input).join(
            MarketInput, MarketInput.product_id == MarketProduct.id
        )
    )
    inputs: dict[str, set[str]] = {}
    for product, ref in rows:
        inputs.setdefault(product, set()).add(ref)
    return inputs


def _downstream(inputs: dict[str, set[str]], root: str) -> tuple[dict[str, int], dict[str, str]]:
    """Every transitive consumer of `root`, its distance and the input it is reached through."""
    consumers: dict[str, list[str]] = {}
    for product, refs in inputs.items():
        for ref in refs:
            consumers.setdefault(ref, []).append(product)
    depth, via = {root: 0}, {}
    queue = deque([root])
    while queue:
        key = queue.popleft()
        for consumer in sorted(consumers.get(key, ())):
            if consumer not in depth:
                depth[consumer] = depth[key] + 1
                via[consumer] = key
                queue.append(consumer)
    return depth, via


def _dependency_order(inputs: dict[str, set[str]], keys: dict[str, int]) -> list[str]:
    graph = {key: {up for up in inputs.get(key, ()) if up in keys} for key in keys}
    return list(TopologicalSorter(graph).static_order())


def _products(session: Session, ids: set[int]) -> dict[str, _Product]:
    """The products `ids` with their columns and impact facts."""
    columns: dict[int, list[Any]] = {}
    for start in range(0, len(sorted(ids)), 500):
        chunk = sorted(ids)[start : start + 500]
        query = (
            select(MarketColumn.product_id, MarketColumn.name, MarketColumn.sources)
            .where(MarketColumn.product_id.in_(chunk))
            .order_by(MarketColumn.product_id, MarketColumn.position)
        )
        for row in session.execute(query):
            columns.setdefault(row.product_id, []).append(row)
    found = {}
    for start in range(0, len(sorted(ids)), 500):
        chunk = sorted(ids)[start : start + 500]
        for p in session.scalars(select(MarketProduct).where(MarketProduct.id.in_(chunk))):
            found[p.name] = _product(p, columns.get(p.id, []))
    return found


def _product(p: MarketProduct, columns: list[Any]) -> _Product:
    facts = json.loads(p.impact or "{}")
    formulas = facts.get("formulas", {})
    return _Product(
        name=p.name,
        domain=p.domain,
        visibility=p.visibility,
        on_call=p.on_call,
        owners=tuple(facts.get("owners", json.loads(p.owners))),
        columns=tuple(
            _Column(
                c.name,
                formulas.get(c.name, c.name),
                tuple(f"{ref}.{col}" for ref, col in json.loads(c.sources)),
            )
            for c in columns
        ),
        python_steps=tuple(facts.get("python_steps", ())),
        lineage_known=bool(facts.get("lineage_known", True)),
        sql_reads=frozenset(facts.get("sql_reads", ())),
    )


def _uses(
    product: _Product, hit: dict[str, set[str]], whole: bool
) -> tuple[tuple[ColumnUse, ...], tuple[str, ...]]:
    """`impact._uses` on the kept facts: the columns deriving from the affected upstream
    columns (`hit`: product -> columns), and those read only in joins, filters, groupings."""
    affected = {f"{up}.{name}" for up, names in hit.items() for name in names}
    sql_reads = set(product.sql_reads & affected)
    uses: list[ColumnUse] = []
    derived: set[str] = set()
    through_code = tuple(f"from_{step}(" for step in product.python_steps)
    for col in product.columns:
        reads = [source for source in col.sources if source in affected]
        if reads:
            certain = not any(marker in col.formula for marker in through_code)
            uses.append(ColumnUse(col.name, col.formula, tuple(reads), certain=certain))
            derived.update(reads)
        elif whole and not col.sources and not _no_lineage(col):
            uses.append(ColumnUse(col.name, col.formula, ()))
    if sql_reads or uses or not product.lineage_known:
        uses += [
            ColumnUse(col.name, col.formula, (), certain=False)
            for col in product.columns
            if _no_lineage(col)
        ]
    return tuple(uses), tuple(sorted(sql_reads - derived))


def _no_lineage(col: _Column) -> bool:
    return not col.sources and col.formula == col.name
