"""Column lineage and formulas: where each output column comes from, as an expression.

A product's leading run of SQL steps is composed into one query (earlier steps as CTEs), and
sqlglot's lineage walks it back to the input columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.lineage import Node, lineage

from mesh_platform.column_types import Schema
from mesh_platform.compile.sql import SOURCE_DIALECT, sqlglot_schema


class LineageStep(Protocol):
    """What lineage reads of a planned step (`plan.PlannedStep`)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def query(self) -> exp.Query | None: ...
    @property
    def output(self) -> Schema | None: ...


@dataclass(frozen=True)
class ColumnLineage:
    """Where an output column comes from and the expression that computes it."""

    sources: tuple[tuple[str, str], ...]
    formula: str


def column_lineage(
    query: exp.Query, schemas: Mapping[str, Schema], columns: list[str]
) -> dict[str, ColumnLineage]:
    """Per output column: its source (table, column) pairs and its formula over them."""
    sg_schema = sqlglot_schema(schemas)
    try:
        # All columns at once: one qualification of the query, shared across columns.
        nodes = lineage(None, query, schema=sg_schema, dialect=SOURCE_DIALECT)
        assert isinstance(nodes, dict)
    except (OptimizeError, ValueError, KeyError):
        nodes = {}
        for column in columns:
            try:
                found = lineage(column, query, schema=sg_schema, dialect=SOURCE_DIALECT)
            except (OptimizeError, ValueError, KeyError):
                continue
            assert isinstance(found, Node)
            nodes[column] = found
    result: dict[str, ColumnLineage] = {}
    for column in columns:
        node = nodes.get(column)
        if node is None:
            continue
        sources = sorted(
            {
                (leaf.source.name, leaf.name.split(".")[-1])
                for leaf in node.walk()
                if not leaf.downstream and isinstance(leaf.source, exp.Table)
            }
        )
        result[column] = ColumnLineage(tuple(sources), _formula(node))
    return result


def _formula(node: Node) -> str:
    """The column's expression with intermediate (CTE, subquery) columns expanded."""
    expression = _expand(node)
    return expression.sql(dialect=SOURCE_DIALECT)


def _expand(node: Node) -> exp.Expression:
    expression = node.expression
    if isinstance(expression, exp.Alias):
        expression = expression.this
    if isinstance(expression, exp.Table):
        return exp.column(node.name.split(".")[-1])
    expression = expression.copy()
    by_name = {d.name: d for d in node.downstream if not isinstance(d.source, exp.Table)}

    def replace(e: exp.Expression) -> exp.Expression:
        if isinstance(e, exp.Column):
            down = by_name.get(e.sql()) or by_name.get(e.name)
            if down is not None and down is not node:
                inner = _expand(down)
                return exp.paren(inner) if isinstance(inner, exp.Binary) else inner
            return exp.column(e.name)
        return e

    if isinstance(expression, exp.Column):
        return replace(expression)
    return expression.transform(replace)


def compose(run: Sequence[LineageStep]) -> exp.Query:
    """Consecutive SQL steps as one query: the last step's, with the earlier ones as CTEs.

    The last step's own CTEs follow the steps' (a CTE may read an earlier step).
    """
    *ctes, final = run
    assert final.query is not None
    query = final.query.copy()
    own_with = query.args.get("with_") or query.args.get("with")
    own_ctes = list(own_with.expressions) if own_with is not None else []
    if own_with is not None:
        own_with.pop()
    for cte in ctes:
        assert cte.query is not None
        query = query.with_(cte.name, as_=cte.query.copy(), append=True)
    for own in own_ctes:
        query = query.with_(own.alias, as_=own.this.copy(), append=True)
    return query


def product_lineage(
    steps: Sequence[LineageStep], input_schemas: Mapping[str, Schema | None], names: list[str]
) -> dict[str, ColumnLineage]:
    """Lineage through the leading run of SQL steps, composed as CTEs over the inputs.

    Columns that keep their name through later Python or standard steps keep that lineage,
    with the later steps named in the formula.
    """
    prefix: list[LineageStep] = []
    for step in steps:
        if step.query is None:
            break
        prefix.append(step)
    if not prefix or any(s is None for s in input_schemas.values()):
        return {}
    schemas = {k: v for k, v in input_schemas.items() if v is not None}
    final = prefix[-1]
    query = compose(prefix)
    if len(prefix) == len(steps):
        return column_lineage(query, schemas, names)
    carried = [n for n in names if n in (final.output or {})]
    found = column_lineage(query, schemas, carried)
    later = ", then ".join(f"{s.kind} step {s.name!r}" for s in steps[len(prefix) :])
    return {
        name: ColumnLineage(info.sources, f"{info.formula} (then {later})")
        for name, info in found.items()
    }
