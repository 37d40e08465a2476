"""A column's origins: the columns it is computed from, followed upstream across domains.

Each level is one query over the catalog's columns (their formulas and sources); a product the
viewer may not see ends its branch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from mesh_platform.marketplace.models import MarketColumn, MarketProduct

MAX_LINEAGE_DEPTH = 12


@dataclass(frozen=True)
class Origin:
    """A column upstream of a page's column: where it is and how it is computed."""

    product: str
    column: str
    formula: str
    depth: int  # 1: an input column of the product; 2: an input of that one; ...


def seen_by(viewer: str | None) -> ColumnElement[bool]:
    """The products `viewer` may see: published ones and its own domain's."""
    return (MarketProduct.visibility == "published") | (MarketProduct.domain == (viewer or ""))


def follow_upstream(
    session: Session, sources: dict[str, list[tuple[str, str]]], viewer: str | None
) -> dict[str, list[Origin]]:
    """Each column's origins, level by level up the lineage (one query per level); a product
    the viewer may not see ends its branch."""
    found: dict[str, list[Origin]] = {name: [] for name in sources}
    frontier = sources
    seen: dict[str, set[tuple[str, str]]] = {name: set() for name in sources}
    for depth in range(1, MAX_LINEAGE_DEPTH + 1):
        wanted = {s for refs in frontier.values() for s in refs}
        if not wanted:
            break
        known = column_facts(session, wanted, viewer)
        next_frontier: dict[str, list[tuple[str, str]]] = {}
        for name, refs in frontier.items():
            parents: list[tuple[str, str]] = []
            for ref in sorted(set(refs)):
                if ref in seen[name] or ref not in known:
                    continue
                seen[name].add(ref)
                formula, upstream = known[ref]
                found[name].append(Origin(ref[0], ref[1], formula, depth))
                parents.extend(upstream)
            next_frontier[name] = parents
        frontier = next_frontier
    return found


def column_facts(
    session: Session, refs: set[tuple[str, str]], viewer: str | None
) -> dict[tuple[str, str], tuple[str, list[tuple[str, str]]]]:
    """Formula and sources of each (product, column) the viewer may see."""
    products = sorted({p for p, _ in refs})
    columns = sorted({c for _, c in refs})
    query = (
        select(MarketProduct.name, MarketColumn.name, MarketColumn.formula, MarketColumn.sources)
        .join(MarketColumn, MarketColumn.product_id == MarketProduct.id)
        .where(MarketProduct.name.in_(products), MarketColumn.name.in_(columns), seen_by(viewer))
    )
    facts: dict[tuple[str, str], tuple[str, list[tuple[str, str]]]] = {}
    for product, column, formula, sources in session.execute(query):
        if (product, column) in refs:
            facts[(product, column)] = (formula, [(s[0], s[1]) for s in json.loads(sources)])
    return facts
