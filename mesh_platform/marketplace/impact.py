"""Impact analysis: who depends on a product or one of its columns, transitively and across
domains, how (the consuming column's formula), and who owns them.

Read from the specs and plans (`Mesh`), so it works before any catalog sync. A product's
consumers come from the inputs of every spec; the columns a dependency flows through come
from column lineage (`ColumnPlan.sources`, `formula`), followed downstream product after
product. A consumer that reads the column only in a join, a filter or a grouping is listed
with that use (its rows depend on the column, no output column derives from it). A column
computed by a Python step may derive from any column the step received, and one computed by
a standard step run in polars has no lineage: when its product reads what changed, it is
listed as a possible use (`certain: false`) and followed on downstream.
"""

from __future__ import annotations

import functools
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from graphlib import TopologicalSorter
from typing import TYPE_CHECKING, Any

from mesh_platform.errors import MeshError

if TYPE_CHECKING:
    from mesh_platform.compile.plan import ColumnPlan, ProductPlan
    from mesh_platform.loader.mesh import Mesh
    from mesh_platform.spec.workspace import Key


class ImpactError(MeshError):
    """Impact was asked of a product or column that does not exist."""


@dataclass(frozen=True)
class ColumnUse:
    """A consumer's column that depends on what changes, and how."""

    column: str
    formula: str
    reads: tuple[str, ...]  # the upstream columns it reads (`domain.product.column`)
    certain: bool = True  # False: computed by a Python or standard step (no lineage)


@dataclass(frozen=True)
class ImpactedProduct:
    """A downstream product: how far, through what, which columns, and who to tell."""

    product: str
    domain: str
    visibility: str
    depth: int  # 1: reads the product directly
    via: str  # the input on the path from the analysed product
    columns: tuple[ColumnUse, ...]
    filters: tuple[str, ...]  # upstream columns read only in joins, filters or groupings
    owners: tuple[str, ...]
    on_call: str | None


@dataclass(frozen=True)
class ImpactReport:
    """Every product downstream of `product` (or of its `column`), nearest first."""

    product: str
    column: str | None
    impacted: tuple[ImpactedProduct, ...]

    @property
    def domains(self) -> tuple[str, ...]:
        """The domains of the impacted products, sorted."""
        return tuple(sorted({p.domain for p in self.impacted}))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json` and the web page."""
        return {
            "product": self.product,
            "column": self.column,
            "domains": list(self.domains),
            "impacted": [plain(asdict(p)) for p in self.impacted],
        }

    def render(self) -> str:
        """The report for a terminal."""
        target = f"{self.product}.{self.column}" if self.column else self.product
        if not self.impacted:
            return f"Nothing downstream depends on {target}."
        lines = [
            f"{len(self.impacted)} product(s) in {len(self.domains)} domain(s) depend on {target}:"
        ]
        for item in self.impacted:
            owners = ", ".join(item.owners) or "no owner"
            on_call = f"; on call: {item.on_call}" if item.on_call else ""
            lines.append(
                f"  {item.product} ({item.visibility}, depth {item.depth}, via {item.via}) "
                f"owners: {owners}{on_call}"
            )
            for use in item.columns:
                maybe = "" if use.certain else " (maybe: computed by a Python or standard step)"
                lines.append(f"    {use.column} = {use.formula}{maybe}")
            if item.filters:
                lines.append(f"    reads {', '.join(item.filters)} in a join, filter or grouping")
        return "\n".join(lines)


def plain(value: Any) -> Any:
    """`value` with tuples as lists, as JSON has them (so `to_dict` round-trips)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def impact(mesh: Mesh, name: str, column: str | None = None) -> ImpactReport:
    """Every product downstream of `domain.product` (or of its `column`) in `mesh`."""
    try:
        source = mesh.product(name)
    except KeyError as exc:
        raise ImpactError(str(exc.args[0])) from None
    root = source.spec.key
    root_plan = mesh.plans[root]
    if column is not None and column not in root_plan.schema:
        raise ImpactError(
            f"{name} has no column {column!r}; its columns: {', '.join(root_plan.schema)}"
        )
    depth, via = _downstream(mesh, root)
    affected: dict[Key, set[str]] = {root: {column} if column else set(root_plan.schema)}
    found: list[ImpactedProduct] = []
    for key in _dependency_order(mesh, depth):  # a product's inputs are settled before it
        if key == root:
            continue
        spec = mesh.products[key].spec
        hit = {
            port: (up, affected[up]) for port, up in spec.input_refs().items() if affected.get(up)
        }
        uses, filters = _uses(mesh, mesh.plans[key], hit, column is None) if hit else ((), ())
        affected[key] = {u.column for u in uses}
        if column is not None and not uses and not filters:
            continue
        domain = mesh.domains[spec.domain].spec
        found.append(
            ImpactedProduct(
                product=spec.qualified_name,
                domain=spec.domain,
                visibility=spec.visibility,
                depth=depth[key],
                via=".".join(via[key]),
                columns=uses,
                filters=filters,
                owners=spec.owners,
                on_call=domain.on_call,
            )
        )
    found.sort(key=lambda p: (p.depth, p.product))
    return ImpactReport(source.spec.qualified_name, column, tuple(found))


def consumers_index(mesh: Mesh) -> dict[Key, list[Key]]:
    """Each product's direct consumers (the products naming it as an input).

    Kept for as long as the mesh lives (it is immutable): a long-lived process such as the web
    catalog answers every question after the first without walking all the specs again.
    """
    cached = _INDEXES.get(id(mesh))
    if cached is not None and cached[0]() is mesh:
        return cached[1]
    index: dict[Key, list[Key]] = {}
    for key, source in mesh.products.items():
        for up in set(source.spec.input_refs().values()):
            index.setdefault(up, []).append(key)
    _INDEXES[id(mesh)] = (weakref.ref(mesh, functools.partial(_forget, id(mesh))), index)
    return index


def _forget(mesh_id: int, _: object) -> None:
    _INDEXES.pop(mesh_id, None)


_INDEXES: dict[int, tuple[weakref.ref[Mesh], dict[Key, list[Key]]]] = {}


def _downstream(mesh: Mesh, root: Key) -> tuple[dict[Key, int], dict[Key, Key]]:
    """Every transitive consumer of `root`, its distance and the input it is reached through."""
    consumers = consumers_index(mesh)
    depth: dict[Key, int] = {root: 0}
    via: dict[Key, Key] = {}
    queue = deque([root])
    while queue:
        key = queue.popleft()
        for consumer in sorted(consumers.get(key, ())):
            if consumer not in depth and consumer in mesh.plans:
                depth[consumer] = depth[key] + 1
                via[consumer] = key
                queue.append(consumer)
    return depth, via


def _dependency_order(mesh: Mesh, keys: Iterable[Key]) -> list[Key]:
    """`keys` ordered so that each comes after its inputs among them."""
    members = set(keys)
    graph = {
        key: {up for up in mesh.products[key].spec.input_refs().values() if up in members}
        for key in members
    }
    return list(TopologicalSorter(graph).static_order())


def _uses(
    mesh: Mesh, plan: ProductPlan, hit: dict[str, tuple[Key, set[str]]], whole: bool
) -> tuple[tuple[ColumnUse, ...], tuple[str, ...]]:
    """The consumer's columns that derive from the affected upstream columns, and the affected
    columns it reads only in joins, filters or groupings.

    `whole`: the whole product is analysed, so a column reading no column of it but its rows
    (`count(*)`) depends on it too.
    """
    sql_reads = _sql_reads(mesh, plan, hit)
    uses: list[ColumnUse] = []
    derived: set[str] = set()
    # After a Python step, lineage says "any column it received" (`from_<step>(...)`): a use.
    through_code = tuple(f"from_{step.name}(" for step in plan.steps if step.kind == "python")
    for col in plan.columns:
        reads = [
            f"{'.'.join(hit[port][0])}.{name}"
            for port, name in col.sources
            if port in hit and name in hit[port][1]
        ]
        if reads:
            certain = not any(marker in col.formula for marker in through_code)
            uses.append(ColumnUse(col.name, col.formula, tuple(reads), certain=certain))
            derived.update(reads)
        elif whole and not col.sources and not _no_lineage(col):
            uses.append(ColumnUse(col.name, col.formula, ()))
    lineage_known = bool(plan.steps) and plan.steps[0].query is not None
    if sql_reads or uses or not lineage_known:
        uses += [
            ColumnUse(col.name, col.formula, (), certain=False)
            for col in plan.columns
            if _no_lineage(col)
        ]
    return tuple(uses), tuple(sorted(sql_reads - derived))


def impact_facts(mesh: Mesh, key: Key) -> dict[str, Any]:
    """What `impact` reads of a planned product beyond its contract, for the catalog to keep
    (`impact_catalog.py` answers from it without the plans): its own owners, each column's
    formula, its Python steps, whether its lineage is known, and every input column its SQL
    names (`domain.product.column`)."""
    spec = mesh.products[key].spec
    plan = mesh.plans[key]
    everything = {
        port: (up, set(mesh.plans[up].schema))
        for port, up in spec.input_refs().items()
        if up in mesh.plans
    }
    return {
        "owners": list(spec.owners),
        "formulas": {col.name: col.formula for col in plan.columns},
        "python_steps": [step.name for step in plan.steps if step.kind == "python"],
        "lineage_known": bool(plan.steps) and plan.steps[0].query is not None,
        "sql_reads": sorted(_sql_reads(mesh, plan, everything)),
    }


def _no_lineage(col: ColumnPlan) -> bool:
    # The plan falls back to the column's own name as formula when lineage found nothing.
    return not col.sources and col.formula == col.name


def _sql_reads(mesh: Mesh, plan: ProductPlan, hit: dict[str, tuple[Key, set[str]]]) -> set[str]:
    """The affected upstream columns the product's SQL names anywhere (`domain.product.col`)."""
    from sqlglot import exp  # here: the catalog's impact (`impact_catalog.py`) needs none

    found: set[str] = set()
    schemas: dict[str, set[str]] = {}
    for step in plan.steps:
        if step.query is None:
            continue
        tables: dict[str, str] = {}
        refs: list[exp.Column] = []
        for node in step.query.walk():  # one pass: tables (with aliases) and column references
            if isinstance(node, exp.Table):
                tables[node.alias_or_name] = node.name
            elif isinstance(node, exp.Column):
                refs.append(node)
        ports = [p for p in dict.fromkeys(tables.values()) if p in hit]
        for port in ports:
            if port not in schemas:
                schemas[port] = set(mesh.plans[hit[port][0]].schema)
        for ref in refs if ports else ():
            name = ref.name
            if ref.table:
                owners = [tables.get(ref.table, "")]
            else:
                owners = [p for p in ports if name in schemas[p]]
            for port in owners:
                if port in hit and name in hit[port][1]:
                    found.add(f"{'.'.join(hit[port][0])}.{name}")
    return found
